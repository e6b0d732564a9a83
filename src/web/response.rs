//! A service response as JavaScript reads it: status, headers (JSON), and either the whole
//! body or its chunks one `next()` at a time.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::Promise;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use crate::service::{Body, EventStream, Response};

#[wasm_bindgen]
pub struct WasmResponse {
    status: u16,
    headers: String,
    text: Option<String>,
    /// Taken while a `next()` awaits it, so concurrent calls get nothing rather than a panic.
    stream: Rc<RefCell<Option<EventStream>>>,
}

impl WasmResponse {
    pub(super) fn new(response: Response) -> Self {
        let headers: Vec<(&str, &str)> = response
            .headers
            .iter()
            .map(|(k, v)| (*k, v.as_str()))
            .collect();
        let headers = serde_json::to_string(&headers).expect("strings serialize");
        let (text, stream) = match response.body {
            Body::Full(text) => (Some(text), None),
            Body::Stream(events) => (None, Some(events)),
        };
        Self {
            status: response.status,
            headers,
            text,
            stream: Rc::new(RefCell::new(stream)),
        }
    }
}

#[wasm_bindgen]
impl WasmResponse {
    pub fn status(&self) -> u16 {
        self.status
    }

    /// `[[name, value], ...]` as JSON.
    pub fn headers(&self) -> String {
        self.headers.clone()
    }

    /// The whole body, or `undefined` for an event stream.
    pub fn text(&self) -> Option<String> {
        self.text.clone()
    }

    /// The next chunk of an event stream; resolves to `undefined` after `[DONE]`.
    pub fn next(&self) -> Promise {
        let slot = self.stream.clone();
        future_to_promise(async move {
            let Some(mut stream) = slot.borrow_mut().take() else {
                return Ok(JsValue::UNDEFINED);
            };
            let chunk = stream.next().await;
            *slot.borrow_mut() = Some(stream);
            Ok(chunk.map_or(JsValue::UNDEFINED, JsValue::from))
        })
    }
}
