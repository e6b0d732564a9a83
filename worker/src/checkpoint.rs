//! A checkpoint directory's files, fetched from an R2 bucket or a URL (Hugging Face repo
//! layout: `{MODEL_URL}/config.json`, `{MODEL_URL}/model.safetensors`, ...).

use worker::js_sys::Uint8Array;
use worker::wasm_bindgen::JsValue;
use worker::wasm_bindgen_futures::JsFuture;
use worker::{Fetch, Method, Request, RequestInit, Response, console_log, web_sys};

use crate::settings::Origin;

impl Origin {
    /// Where the files are, for error messages.
    pub fn describe(&self) -> String {
        match self {
            Origin::Bucket { prefix, .. } => {
                format!("R2 binding {}/{prefix}", crate::settings::BUCKET_BINDING)
            }
            Origin::Url(base) => base.clone(),
        }
    }

    /// The whole file, or `None` when it does not exist.
    pub async fn get(&self, file: &str) -> Result<Option<Vec<u8>>, String> {
        let fail = |e: worker::Error| format!("{}/{file}: {e}", self.describe());
        match self {
            Origin::Bucket { bucket, prefix } => {
                let Some(object) = bucket
                    .get(format!("{prefix}{file}"))
                    .execute()
                    .await
                    .map_err(fail)?
                else {
                    return Ok(None);
                };
                let body = object
                    .body()
                    .ok_or_else(|| format!("{}/{file}: the object has no body", self.describe()))?;
                body.bytes().await.map(Some).map_err(fail)
            }
            Origin::Url(base) => {
                let url = format!("{base}/{file}");
                // A body cut off part way is fetched again, as a refused connection is.
                let mut attempt = 1;
                loop {
                    let Some(response) = fetch(&url, Method::Get).await? else {
                        return Ok(None);
                    };
                    match exact_bytes(response).await {
                        Ok(bytes) => return Ok(Some(bytes)),
                        Err(e) if attempt < ATTEMPTS => {
                            console_log!("{url}: the body was cut off ({e:?}); fetching it again");
                            attempt += 1;
                        }
                        Err(e) => return Err(format!("{url}: {e:?}")),
                    }
                }
            }
        }
    }

    /// The file's size in bytes without downloading it, or `None` when it does not exist.
    pub async fn size(&self, file: &str) -> Result<Option<u64>, String> {
        match self {
            Origin::Bucket { bucket, prefix } => bucket
                .head(format!("{prefix}{file}"))
                .await
                .map(|object| object.map(|o| o.size()))
                .map_err(|e| format!("{}/{file}: {e}", self.describe())),
            Origin::Url(base) => {
                let url = format!("{base}/{file}");
                let Some(response) = fetch(&url, Method::Head).await? else {
                    return Ok(None);
                };
                let length = response
                    .headers()
                    .get("content-length")
                    .map_err(|e| format!("{url}: {e}"))?;
                length
                    .and_then(|l| l.trim().parse().ok())
                    .map(Some)
                    .ok_or_else(|| format!("{url}: HEAD gave no Content-Length"))
            }
        }
    }
}

/// The body in a buffer of exactly its size. (`Response::bytes` grows a vector chunk by
/// chunk, which at times holds three times a weight file: more than an isolate has.)
async fn exact_bytes(response: Response) -> Result<Vec<u8>, JsValue> {
    let response: web_sys::Response = response.into();
    let buffer = JsFuture::from(response.array_buffer()?).await?;
    let view = Uint8Array::new(&buffer);
    let mut bytes = vec![0; view.length() as usize];
    view.copy_to(&mut bytes);
    Ok(bytes)
}

/// How often a dropped fetch is tried in all. An origin that closes each connection (an
/// HTTP/1.0 server such as Python's http.server) can have the runtime reuse a connection it
/// already closed, which fails as "Network connection lost"; a fresh attempt gets a new one.
const ATTEMPTS: u32 = 3;

/// A successful response, `None` on 404, an error naming the URL otherwise. A request that
/// fails without an answer is sent again, up to [`ATTEMPTS`] times.
async fn fetch(url: &str, method: Method) -> Result<Option<Response>, String> {
    let mut attempt = 1;
    let response = loop {
        let request = Request::new_with_init(url, RequestInit::new().with_method(method.clone()))
            .map_err(|e| format!("{url}: {e}"))?;
        match Fetch::Request(request).send().await {
            Ok(response) => break response,
            Err(e) if attempt < ATTEMPTS => {
                console_log!("{url}: {e}; trying again");
                attempt += 1;
            }
            Err(e) => return Err(format!("{url}: {e} (after {ATTEMPTS} attempts)")),
        }
    };
    match response.status_code() {
        200..=299 => Ok(Some(response)),
        404 => Ok(None),
        status => Err(format!("{url}: HTTP {status}")),
    }
}
