//! Cross-origin calls from browser pages (`--cors-origin`): which origins may call the
//! server, the preflight answer, and the headers every answer to such a page carries.
//!
//! Keys travel in `Authorization`, never in cookies, so `Access-Control-Allow-Credentials`
//! is never sent: with `*` no page can make the browser attach its cookies, and a listed
//! origin gets its own name back, never someone else's.

use hyper::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE, HeaderName, HeaderValue, VARY,
};

use crate::contract::ROUTES;

/// How long a browser may cache a preflight answer, in seconds.
const MAX_AGE_S: u32 = 600;

/// The origins `--cors-origin` lists: none (no cross-origin calls), `*`, or exact origins.
#[derive(Clone, Debug, Default)]
pub struct Cors {
    any: bool,
    origins: Vec<String>,
}

impl Cors {
    /// Each entry `*` or `scheme://host[:port]`, as a browser sends it in `Origin`.
    pub fn new(origins: &[String]) -> Result<Self, String> {
        let mut cors = Self::default();
        for origin in origins {
            if origin == "*" {
                cors.any = true;
            } else if is_origin(origin) {
                cors.origins.push(origin.to_ascii_lowercase());
            } else {
                return Err(format!(
                    "--cors-origin {origin:?} is not an origin: give `*` or scheme://host[:port] with no path, e.g. https://chat.example.com"
                ));
            }
        }
        Ok(cors)
    }

    /// The value of Access-Control-Allow-Origin for a page at `origin`, if it may call.
    fn allow<'a>(&'a self, origin: &'a str) -> Option<&'a str> {
        if self.any {
            Some("*")
        } else {
            self.origins
                .iter()
                .any(|o| o.eq_ignore_ascii_case(origin))
                .then_some(origin)
        }
    }

    /// The headers an answer to a request with `origin` carries. `Vary: Origin` goes on
    /// every answer when listed origins are reflected, so a cache never hands one page's
    /// answer to another.
    pub fn headers(&self, origin: Option<&str>) -> Vec<(HeaderName, HeaderValue)> {
        let mut headers = Vec::new();
        if !self.any && !self.origins.is_empty() {
            headers.push((VARY, HeaderValue::from_static("origin")));
        }
        if let Some(allowed) = origin
            .and_then(|o| self.allow(o))
            .and_then(|a| HeaderValue::from_str(a).ok())
        {
            headers.push((ACCESS_CONTROL_ALLOW_ORIGIN, allowed));
            headers.push((
                ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static("retry-after, allow"),
            ));
        }
        headers
    }

    /// The answer to a preflight (`OPTIONS` with Origin and Access-Control-Request-Method)
    /// for one of the served paths from an allowed origin: the headers of a 204. Anything
    /// else is an ordinary request (an `OPTIONS` is then 405, and the browser refuses).
    pub fn preflight(
        &self,
        method: &str,
        path: &str,
        origin: Option<&str>,
        requested_method: Option<&str>,
    ) -> Option<Vec<(HeaderName, HeaderValue)>> {
        if method != "OPTIONS" || requested_method.is_none() {
            return None;
        }
        self.allow(origin?)?;
        let path = path.split(['?', '#']).next().unwrap_or(path);
        let (_, allow, _) = ROUTES.iter().find(|r| r.2 == path)?;
        let mut headers = self.headers(origin);
        headers.push((
            ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(allow),
        ));
        headers.push((
            ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("authorization, content-type"),
        ));
        headers.push((ACCESS_CONTROL_MAX_AGE, HeaderValue::from(MAX_AGE_S)));
        Some(headers)
    }
}

/// `scheme://host[:port]`: what a browser writes in `Origin`, nothing after the authority.
fn is_origin(origin: &str) -> bool {
    let Some((scheme, authority)) = origin.split_once("://") else {
        return false;
    };
    let scheme_ok = !scheme.is_empty()
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b));
    let authority_ok = !authority.is_empty()
        && authority
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b));
    scheme_ok && authority_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(headers: &[(HeaderName, HeaderValue)]) -> Vec<String> {
        headers
            .iter()
            .map(|(n, v)| format!("{n}: {}", v.to_str().unwrap()))
            .collect()
    }

    #[test]
    fn origins_are_checked_when_given() {
        assert!(Cors::new(&["https://chat.example.com:8443".into()]).is_ok());
        assert!(Cors::new(&["*".into(), "http://localhost:3000".into()]).is_ok());
        for bad in [
            "chat.example.com",
            "https://x.com/",
            "https://x.com/path",
            "",
        ] {
            let error = Cors::new(&[bad.into()]).unwrap_err();
            assert!(error.contains("is not an origin"), "{bad}: {error}");
        }
    }

    #[test]
    fn none_configured_sends_nothing() {
        let cors = Cors::default();
        assert!(cors.headers(Some("https://a.example")).is_empty());
        let path = "/api/v1/chat/completion_messages";
        assert!(
            cors.preflight("OPTIONS", path, Some("https://a.example"), Some("POST"))
                .is_none()
        );
    }

    #[test]
    fn a_listed_origin_gets_its_own_name_and_others_nothing() {
        let cors = Cors::new(&["https://a.example".into()]).unwrap();
        assert_eq!(
            names(&cors.headers(Some("https://a.example"))),
            [
                "vary: origin",
                "access-control-allow-origin: https://a.example",
                "access-control-expose-headers: retry-after, allow"
            ]
        );
        assert_eq!(
            names(&cors.headers(Some("https://b.example"))),
            ["vary: origin"]
        );
        assert_eq!(names(&cors.headers(None)), ["vary: origin"]);
    }

    #[test]
    fn any_origin_is_star_and_never_credentials() {
        let cors = Cors::new(&["*".into()]).unwrap();
        let headers = names(&cors.headers(Some("https://evil.example")));
        assert!(headers.contains(&"access-control-allow-origin: *".to_string()));
        assert!(!headers.iter().any(|h| h.contains("evil.example")));
        assert!(!headers.iter().any(|h| h.contains("credentials")));
    }

    #[test]
    fn preflight_names_the_routes_method_and_headers() {
        let cors = Cors::new(&["https://a.example".into()]).unwrap();
        let path = "/api/v1/chat/completion_messages";
        let headers = names(
            &cors
                .preflight("OPTIONS", path, Some("https://a.example"), Some("POST"))
                .unwrap(),
        );
        for expected in [
            "access-control-allow-origin: https://a.example",
            "access-control-allow-methods: POST",
            "access-control-allow-headers: authorization, content-type",
            "access-control-max-age: 600",
        ] {
            assert!(headers.contains(&expected.to_string()), "{headers:?}");
        }
        let other = Some("https://b.example");
        assert!(
            cors.preflight("OPTIONS", path, other, Some("POST"))
                .is_none()
        );
        let origin = Some("https://a.example");
        assert!(
            cors.preflight("OPTIONS", "/nope", origin, Some("POST"))
                .is_none()
        );
        assert!(cors.preflight("OPTIONS", path, origin, None).is_none());
    }
}
