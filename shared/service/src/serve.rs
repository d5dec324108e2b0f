//! The one `main` of every flowmerge Lambda.

use std::fmt::Debug;
use std::future::Future;

use aws_config::SdkConfig;
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::config::FromVars;
use crate::{ConfigError, Function};

/// Runs `function`: at cold start, logging, its settings (`Config`, from the
/// variables it reads) and what `build` makes of them (clients, ledger, pipeline context), kept for the
/// life of the process; then `handle` for every invocation. A bad setting
/// fails the cold start naming the variable, before any event is taken.
pub async fn serve<Config, State, Event, Response, Failure, Build, Handle, Fut>(
    function: Function,
    build: Build,
    handle: Handle,
) -> Result<(), lambda_runtime::Error>
where
    Config: FromVars,
    State: Send + Sync + 'static,
    Event: DeserializeOwned + Send + 'static,
    Response: Serialize + Send + 'static,
    Failure: Into<Diagnostic> + Debug,
    Build: FnOnce(&SdkConfig, Config) -> Result<State, ConfigError>,
    Handle: Fn(&'static State, Event) -> Fut,
    Fut: Future<Output = Result<Response, Failure>>,
{
    crate::logging::init();
    let config = Config::from_env(function).inspect_err(crate::config::log_config_error)?;
    let sdk = aws_config::load_from_env().await;
    let state = build(&sdk, config).inspect_err(crate::config::log_config_error)?;
    let state: &'static State = Box::leak(Box::new(state));
    let handle = &handle;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Event>| {
        handle(state, event.payload)
    }))
    .await
}
