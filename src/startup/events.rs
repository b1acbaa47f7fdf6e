//! The change-events function's start-up: its configuration, read from the
//! environment and validated once (a bad `EVENT_DETAIL` stops it before the
//! first batch), and its app.

use std::time::{Duration, Instant, SystemTime};

use crate::events::EventsApp;
use crate::events::detail::Mode;
use crate::events::publish::Publisher;
use crate::startup::config::{ConfigError, err, required, sdk_timeouts, telemetry};
use crate::startup::tls::{TlsRoots, tls_roots};
use crate::telemetry::Settings;

#[derive(Debug, Clone)]
pub struct EventsConfig {
    /// `EVENT_BUS_NAME`: the bus the events go to (a name or an ARN).
    pub bus: String,
    /// `EVENT_DETAIL`: how much of the customer an event carries.
    pub mode: Mode,
    pub attempt_timeout: Duration,
    pub operation_timeout: Duration,
    pub telemetry: Settings,
    /// What the EventBridge calls trust (`TLS_ROOTS`, see `tls.rs`).
    pub tls_roots: TlsRoots,
}

impl EventsConfig {
    pub fn from_env() -> Result<EventsConfig, ConfigError> {
        EventsConfig::from_lookup(|k| std::env::var(k).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<EventsConfig, ConfigError> {
        let bus = required(&get, "EVENT_BUS_NAME")?;
        let mode = Mode::parse(&get("EVENT_DETAIL").unwrap_or_default())
            .map_err(|e| err("EVENT_DETAIL", e))?;
        let (attempt_timeout, operation_timeout) = sdk_timeouts(&get, 1_000, 3_000)?;
        Ok(EventsConfig {
            bus,
            mode,
            attempt_timeout,
            operation_timeout,
            telemetry: telemetry(&get)?,
            tls_roots: tls_roots(&get)?,
        })
    }
}

pub fn app(config: &EventsConfig, client: aws_sdk_eventbridge::Client) -> EventsApp {
    EventsApp {
        publisher: Publisher::new(client, config.bus.clone()),
        mode: config.mode,
        telemetry: config.telemetry.clone(),
    }
}

/// The last moment a `PutEvents` call may start in an invocation whose
/// deadline is `deadline_ms` (epoch milliseconds, from the Runtime API): one
/// operation timeout and a margin before it, so the function answers before
/// Lambda stops it. No deadline (0) means none, and so does a value too
/// small to be an epoch time: `cargo lambda watch` (1.9) sends its timeout,
/// 600000, where Lambda sends the deadline's epoch milliseconds, and read as
/// a date in 1970 it left no time for any call under `make run`.
pub fn last_call(deadline_ms: u64, now: SystemTime, config: &EventsConfig) -> Option<Instant> {
    // 2001-09-09: no Lambda deadline is earlier; every duration is shorter.
    const EPOCH_MS_FLOOR: u64 = 1_000_000_000_000;
    if deadline_ms < EPOCH_MS_FLOOR {
        return None;
    }
    let margin = config.operation_timeout + Duration::from_millis(500);
    let deadline = SystemTime::UNIX_EPOCH + Duration::from_millis(deadline_ms);
    let left = deadline.duration_since(now).unwrap_or_default();
    Some(Instant::now() + left.saturating_sub(margin))
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
    fn the_last_call_leaves_an_operation_timeout_before_the_deadline() {
        let c = cfg(&[("EVENT_BUS_NAME", "b")]).unwrap();
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_000_000);
        assert_eq!(last_call(0, now, &c), None);
        // The emulator's 600000 (its timeout, not a date) is no deadline.
        assert_eq!(last_call(600_000, now, &c), None);
        let before = Instant::now();
        let at = last_call(1_796_000_030_000, now, &c).unwrap();
        // 30 s left, minus 3 s of operation timeout and 0.5 s.
        assert!(at >= before + Duration::from_millis(26_500));
        assert!(at <= Instant::now() + Duration::from_millis(26_500));
        // A deadline already past: no call at all.
        assert!(last_call(1_795_999_999_000, now, &c).unwrap() <= Instant::now());
    }

    #[test]
    fn a_bad_mode_stops_start_up_naming_the_variable() {
        let e = cfg(&[("EVENT_BUS_NAME", "b"), ("EVENT_DETAIL", "everything")]).unwrap_err();
        assert_eq!(e.var, "EVENT_DETAIL");
        assert!(e.to_string().contains("everything"), "{e}");
    }
}
