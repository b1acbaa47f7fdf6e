//! The change-events function's start-up: its configuration, read from the
//! environment and validated once (a bad `EVENT_DETAIL` stops it before the
//! first batch), and its app.

use std::time::Duration;

use crate::events::EventsApp;
use crate::events::detail::Mode;
use crate::events::publish::Publisher;
use crate::startup::config::{ConfigError, err, required, sdk_timeouts};

#[derive(Debug, Clone)]
pub struct EventsConfig {
    /// `EVENT_BUS_NAME`: the bus the events go to (a name or an ARN).
    pub bus: String,
    /// `EVENT_DETAIL`: how much of the customer an event carries.
    pub mode: Mode,
    pub attempt_timeout: Duration,
    pub operation_timeout: Duration,
}

impl EventsConfig {
    pub fn from_env() -> Result<EventsConfig, ConfigError> {
        EventsConfig::from_lookup(|k| std::env::var(k).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<EventsConfig, ConfigError> {
        let bus = required(&get, "EVENT_BUS_NAME")?;
        let mode = Mode::parse(&get("EVENT_DETAIL").unwrap_or_default())
            .map_err(|e| err("EVENT_DETAIL", e))?;
        let (attempt_timeout, operation_timeout) = sdk_timeouts(&get)?;
        Ok(EventsConfig {
            bus,
            mode,
            attempt_timeout,
            operation_timeout,
        })
    }
}

pub fn app(config: &EventsConfig, client: aws_sdk_eventbridge::Client) -> EventsApp {
    EventsApp {
        publisher: Publisher::new(client, config.bus.clone()),
        mode: config.mode,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(pairs: &[(&str, &str)]) -> Result<EventsConfig, ConfigError> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        EventsConfig::from_lookup(|k| m.get(k).cloned())
    }

    #[test]
    fn the_bus_is_required_and_the_mode_defaults_to_full() {
        assert_eq!(cfg(&[]).unwrap_err().var, "EVENT_BUS_NAME");
        let c = cfg(&[("EVENT_BUS_NAME", "customers")]).unwrap();
        assert_eq!((c.bus.as_str(), c.mode), ("customers", Mode::Full));
        let c = cfg(&[("EVENT_BUS_NAME", "b"), ("EVENT_DETAIL", "ids")]).unwrap();
        assert_eq!(c.mode, Mode::Ids);
    }

    #[test]
    fn a_bad_mode_stops_start_up_naming_the_variable() {
        let e = cfg(&[("EVENT_BUS_NAME", "b"), ("EVENT_DETAIL", "everything")]).unwrap_err();
        assert_eq!(e.var, "EVENT_DETAIL");
        assert!(e.to_string().contains("everything"), "{e}");
    }
}
