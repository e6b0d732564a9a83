//! hearth's contract from a Cloudflare-style worker. The fetch handler reads the worker's
//! configuration and either runs the model inside the isolate (the same `Service` as
//! `hearth serve`) or forwards admitted requests to an upstream that speaks the contract.

mod checkpoint;
mod fit;
mod http;
mod isolate;
mod pool;
mod settings;
mod upstream;

use hearth::contract::ApiError;
use worker::{Context, Env, Request, Response, Result, event};

use settings::{Mode, Settings};

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let received = http::read(req).await?;
    let settings = match Settings::from_env(&env) {
        Ok(settings) => settings,
        Err(message) => {
            let e = ApiError::internal(format!("the worker is misconfigured: {message}"));
            return http::error(&received.path, &e);
        }
    };
    match &settings.mode {
        Mode::Upstream(upstream) => upstream::handle(&settings, upstream, &received).await,
        Mode::Isolate(origin) => isolate::handle(&settings, origin, &received).await,
    }
}
