//! Installs the one tracing subscriber: `WATCHKEEPER_LOG` filters (default
//! `warn,watchkeeper=info,wk_api=info,wk_dispatcher=info`), `WATCHKEEPER_LOG_FORMAT=json|plain`
//! chooses the format. Logs go to standard error.

const DEFAULT_FILTER: &str =
    "warn,watchkeeper=info,wk_api=info,wk_bus=info,wk_dispatcher=info,wk_notify=info";

pub(crate) fn init() -> Result<(), String> {
    let filter = tracing_subscriber::EnvFilter::try_from_env("WATCHKEEPER_LOG")
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(DEFAULT_FILTER))
        .map_err(|error| error.to_string())?;
    let json = match std::env::var("WATCHKEEPER_LOG_FORMAT").as_deref() {
        Ok("json") => true,
        Ok("plain") | Err(_) => false,
        Ok(other) => {
            return Err(format!(
                "WATCHKEEPER_LOG_FORMAT={other:?}: expected json or plain"
            ));
        }
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = if json {
        builder.json().with_current_span(true).try_init()
    } else {
        builder.try_init()
    };
    result.map_err(|error| error.to_string())
}
