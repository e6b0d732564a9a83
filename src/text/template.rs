//! Chat templates: the Jinja program in `tokenizer_config.json` that turns a conversation into
//! the prompt string, rendered the way transformers' `apply_chat_template` renders it.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use minijinja::{Environment, Error, ErrorKind, Value};
use serde::{Deserialize, Serialize};

use super::{TextError, python, strftime};

/// One chat message as the template sees it (`message.role`, `message.content`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Message {
    pub role: String,
    pub content: String,
}

impl Message {
    pub fn new(role: impl Into<String>, content: impl Into<String>) -> Self {
        Self {
            role: role.into(),
            content: content.into(),
        }
    }

    pub fn system(content: impl Into<String>) -> Self {
        Self::new("system", content)
    }

    pub fn user(content: impl Into<String>) -> Self {
        Self::new("user", content)
    }

    pub fn assistant(content: impl Into<String>) -> Self {
        Self::new("assistant", content)
    }
}

/// The current time as Unix seconds, for `strftime_now`; `None` when the platform has no clock.
pub type Clock = Arc<dyn Fn() -> Option<i64> + Send + Sync>;

const NAME: &str = "chat_template";

/// Qwen's ChatML, without the default system prompt some Qwen templates add.
const CHATML: &str = "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/// A compiled chat template plus the special-token names it may reference.
///
/// `Send + Sync`; render it from any number of threads.
#[derive(Clone)]
pub struct ChatTemplate {
    env: Environment<'static>,
    source: Arc<str>,
    bos_token: Option<String>,
    eos_token: Option<String>,
}

/// The error `raise_exception` throws, found again in the render error's source chain so the
/// template's own message reaches the caller unchanged.
#[derive(Debug)]
struct Raised(String);

impl fmt::Display for Raised {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Raised {}

/// Instructions one render may run.
const TEMPLATE_FUEL: u64 = 5_000_000;

/// Bytes one render may produce: its final text, and everything its `{{ … }}` write on the
/// way (into macro calls and `{% set %}` blocks too). Far more than any context holds as a
/// prompt, far less than a template that doubles its output reaches within its fuel.
pub const TEMPLATE_OUTPUT_LIMIT: usize = 16 << 20;

/// The temp (per render, shared with the macros it calls) counting what `{{ … }}` wrote.
const WRITTEN: &str = "hearth.written";

impl ChatTemplate {
    /// Compiles `source`. `bos_token`/`eos_token` become template variables when set (left
    /// undefined otherwise, as transformers omits unset special tokens).
    pub fn new(
        source: &str,
        bos_token: Option<String>,
        eos_token: Option<String>,
    ) -> Result<Self, TextError> {
        let mut env = Environment::new();
        // transformers: ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True) with
        // Jinja's default keep_trailing_newline=False.
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_keep_trailing_newline(false);
        // Templates are code from the internet: one that loops without end fails its request
        // after this many instructions (a long real conversation takes well under 1%).
        env.set_fuel(Some(TEMPLATE_FUEL));
        // `.strip()`, `.split()`, `.items()`, … the Python methods templates call.
        env.set_unknown_method_callback(python::call_method);
        env.set_formatter(|out, state, value| {
            count_output(state, value)?;
            python::format_value(out, state, value)
        });
        env.add_filter("tojson", python::tojson);
        env.add_function(
            "raise_exception",
            |message: String| -> Result<Value, Error> {
                Err(Error::new(ErrorKind::InvalidOperation, message.clone())
                    .with_source(Raised(message)))
            },
        );
        let source: Arc<str> = Arc::from(source);
        env.add_template_owned(NAME, source.to_string())
            .map_err(|e| {
                let (line, message) = describe(&e, &source);
                TextError::TemplateSyntax { line, message }
            })?;
        let template = Self {
            env,
            source,
            bos_token,
            eos_token,
        };
        Ok(template.with_clock(default_clock()))
    }

    /// Plain ChatML (`<|im_start|>{role}\n{content}<|im_end|>\n`, then `<|im_start|>assistant\n`
    /// for the generation prompt), for Qwen models whose config carries no template.
    pub fn chatml() -> Self {
        Self::new(CHATML, None, None).expect("the built-in ChatML template compiles")
    }

    /// Replaces the clock behind `strftime_now` (e.g. to give wasm a clock, or to pin tests).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.env.add_function(
            "strftime_now",
            move |format: String| -> Result<String, Error> {
                match clock() {
                    Some(now) => Ok(strftime::strftime(&format, now)),
                    None => Err(Error::new(
                        ErrorKind::InvalidOperation,
                        "strftime_now: no clock on this platform (see ChatTemplate::with_clock)",
                    )),
                }
            },
        );
        self
    }

    /// The template source.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether the model writes its thinking in a `<think>` block: the template then handles
    /// `</think>` in earlier answers (Qwen3, QwQ, DeepSeek-R1's distills).
    pub fn thinks(&self) -> bool {
        self.source.contains("</think>")
    }

    /// Renders the conversation; `add_generation_prompt` appends the assistant turn opener.
    pub fn render(
        &self,
        messages: &[Message],
        add_generation_prompt: bool,
    ) -> Result<String, TextError> {
        self.render_with(messages, add_generation_prompt, &serde_json::Map::new())
    }

    /// Like [`ChatTemplate::render`], with extra template variables, the way keyword arguments
    /// of `apply_chat_template` reach the template (e.g. `enable_thinking: false` for Qwen3).
    /// They may override `bos_token`/`eos_token`, not `messages`/`add_generation_prompt`.
    pub fn render_with(
        &self,
        messages: &[Message],
        add_generation_prompt: bool,
        extra: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<String, TextError> {
        let mut ctx: BTreeMap<&str, Value> = BTreeMap::new();
        // transformers passes tools=None and documents=None, so `tools is defined` holds.
        ctx.insert("tools", Value::from(()));
        ctx.insert("documents", Value::from(()));
        if let Some(bos) = &self.bos_token {
            ctx.insert("bos_token", Value::from(bos.as_str()));
        }
        if let Some(eos) = &self.eos_token {
            ctx.insert("eos_token", Value::from(eos.as_str()));
        }
        for (k, v) in extra {
            ctx.insert(k.as_str(), Value::from_serialize(v));
        }
        ctx.insert("messages", Value::from_serialize(messages));
        ctx.insert("add_generation_prompt", Value::from(add_generation_prompt));

        let template = self
            .env
            .get_template(NAME)
            .map_err(|e| self.render_error(&e))?;
        let mut out = Bounded(Vec::new());
        template
            .render_captured_to(ctx, &mut out)
            .map_err(|e| self.render_error(&e))?;
        String::from_utf8(out.0).map_err(|e| TextError::TemplateRender {
            line: None,
            message: format!("the output is not UTF-8: {e}"),
        })
    }

    fn render_error(&self, err: &Error) -> TextError {
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(err);
        while let Some(e) = cause {
            if let Some(Raised(message)) = e.downcast_ref::<Raised>() {
                return TextError::TemplateRaised(message.clone());
            }
            cause = e.source();
        }
        let (line, message) = describe(err, &self.source);
        TextError::TemplateRender { line, message }
    }
}

fn too_much_output() -> String {
    format!(
        "the template's output passed {} MiB: it grows without bound",
        TEMPLATE_OUTPUT_LIMIT >> 20
    )
}

/// Counts what one `{{ … }}` writes against [`TEMPLATE_OUTPUT_LIMIT`].
fn count_output(state: &minijinja::State, value: &Value) -> Result<(), Error> {
    let len = value
        .as_str()
        .map_or_else(|| value.to_string().len(), str::len);
    let written = state
        .get_temp(WRITTEN)
        .and_then(|v| usize::try_from(v).ok())
        .unwrap_or(0)
        .saturating_add(len);
    if written > TEMPLATE_OUTPUT_LIMIT {
        return Err(Error::new(ErrorKind::InvalidOperation, too_much_output()));
    }
    state.set_temp(WRITTEN, Value::from(written));
    Ok(())
}

/// The render's final text, refused past [`TEMPLATE_OUTPUT_LIMIT`] (literal text repeated by
/// loops reaches it without passing the formatter).
struct Bounded(Vec<u8>);

impl std::io::Write for Bounded {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if self.0.len() + bytes.len() > TEMPLATE_OUTPUT_LIMIT {
            return Err(std::io::Error::other(too_much_output()));
        }
        self.0.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl fmt::Debug for ChatTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChatTemplate")
            .field("source_len", &self.source.len())
            .field("bos_token", &self.bos_token)
            .field("eos_token", &self.eos_token)
            .finish()
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn default_clock() -> Clock {
    Arc::new(|| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?;
        i64::try_from(now.as_secs()).ok()
    })
}

/// `SystemTime::now` panics on wasm32-unknown-unknown; the embedder supplies a clock instead.
#[cfg(target_arch = "wasm32")]
fn default_clock() -> Clock {
    Arc::new(|| None)
}

/// A one-line description of a template error plus the offending source line, which matters
/// because Hub templates are often one very long line.
fn describe(err: &Error, source: &str) -> (Option<usize>, String) {
    let line = err.line();
    let mut message = match err.detail() {
        // "chat template syntax error: syntax error: …" says it twice.
        Some(detail) if err.kind() == ErrorKind::SyntaxError => detail.to_owned(),
        Some(detail) => format!("{}: {detail}", err.kind()),
        None => err.kind().to_string(),
    };
    let mut cause = std::error::Error::source(err);
    while let Some(e) = cause {
        message.push_str(&format!(": {e}"));
        cause = e.source();
    }
    if let Some(snippet) = snippet(err, source, line) {
        message.push_str(&format!(" (near `{snippet}`)"));
    }
    (line, message)
}

/// The source around the error: the error's span when known, else its line, clipped.
fn snippet(err: &Error, source: &str, line: Option<usize>) -> Option<String> {
    const MAX: usize = 80;
    let text = match err.range() {
        Some(r) if r.start < r.end && source.get(r.clone()).is_some() => &source[r],
        _ => source.lines().nth(line?.checked_sub(1)?)?.trim(),
    };
    let mut clipped: String = text.chars().take(MAX).collect();
    if clipped.len() < text.len() {
        clipped.push('…');
    }
    Some(clipped)
}
