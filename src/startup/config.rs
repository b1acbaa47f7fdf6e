//! Configuration from the environment, read and validated once at start-up.
//! A bad value stops the function with a message naming the variable, rather
//! than failing request by request.

use std::time::Duration;

use crate::customer::strategy::Strategies;
use crate::startup::tls::{TlsRoots, tls_roots};
use crate::telemetry::{Settings, emf};

#[derive(Debug, Clone)]
pub struct Config {
    pub table_name: String,
    pub api_keys_parameter: String,
    pub keys_ttl: Duration,
    pub keys_max_stale: Duration,
    pub strategies: Strategies,
    pub require_if_match: bool,
    /// How long an idempotency record answers for its key (SPEC §11).
    pub idempotency_ttl: Duration,
    pub require_idempotency_key: bool,
    /// Each try of an SDK call (connect included).
    pub attempt_timeout: Duration,
    /// A whole SDK call, retries included.
    pub operation_timeout: Duration,
    /// Where the summary lines' metrics go (SPEC §14).
    pub telemetry: Settings,
    /// What the AWS calls trust (`TLS_ROOTS`, see `tls.rs`).
    pub tls_roots: TlsRoots,
}

#[derive(Debug, thiserror::Error)]
#[error("configuration: {var} {problem}")]
pub struct ConfigError {
    pub var: &'static str,
    pub problem: String,
}

pub(crate) fn err(var: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        var,
        problem: problem.into(),
    }
}

pub(crate) fn required(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
) -> Result<String, ConfigError> {
    match get(var) {
        Some(v) if !v.trim().is_empty() => Ok(v.trim().to_owned()),
        _ => Err(err(var, "is required")),
    }
}

pub(crate) fn number(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: u64,
    min: u64,
    max: u64,
) -> Result<u64, ConfigError> {
    let Some(raw) = get(var).filter(|v| !v.trim().is_empty()) else {
        return Ok(default);
    };
    match raw.trim().parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(err(
            var,
            format!("must be a whole number from {min} to {max}, got `{raw}`"),
        )),
    }
}

/// `true`/`1` or `false`/`0`/unset, in any case.
fn boolean(get: &impl Fn(&str) -> Option<String>, var: &'static str) -> Result<bool, ConfigError> {
    match get(var)
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
        .as_str()
    {
        "" | "false" | "0" => Ok(false),
        "true" | "1" => Ok(true),
        other => Err(err(var, format!("must be true or false, got `{other}`"))),
    }
}

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|k| std::env::var(k).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let table_name = required(&get, "TABLE_NAME")?;
        let api_keys_parameter = required(&get, "API_KEYS_PARAMETER")?;
        let ttl = number(&get, "API_KEYS_TTL_SECONDS", 60, 1, 86_400)?;
        let max_stale = number(&get, "API_KEYS_MAX_STALE_SECONDS", 300, 0, 86_400)?;
        if max_stale < ttl {
            return Err(err(
                "API_KEYS_MAX_STALE_SECONDS",
                format!("({max_stale}) must be at least API_KEYS_TTL_SECONDS ({ttl})"),
            ));
        }
        let strategies = Strategies::parse(&get("PATCH_STRATEGY").unwrap_or_default())
            .map_err(|e| err("PATCH_STRATEGY", e))?;
        let require_if_match = boolean(&get, "REQUIRE_IF_MATCH")?;
        let idempotency_ttl = number(&get, "IDEMPOTENCY_TTL_SECONDS", 86_400, 60, 604_800)?;
        let require_idempotency_key = boolean(&get, "REQUIRE_IDEMPOTENCY_KEY")?;
        let (attempt_timeout, operation_timeout) = sdk_timeouts(&get, 1_000, 3_000)?;
        let telemetry = telemetry(&get)?;
        let tls_roots = tls_roots(&get)?;
        Ok(Config {
            table_name,
            api_keys_parameter,
            keys_ttl: Duration::from_secs(ttl),
            keys_max_stale: Duration::from_secs(max_stale),
            strategies,
            require_if_match,
            idempotency_ttl: Duration::from_secs(idempotency_ttl),
            require_idempotency_key,
            attempt_timeout,
            operation_timeout,
            telemetry,
            tls_roots,
        })
    }
}

/// `METRICS_NAMESPACE` and `SERVICE_NAME` (the template sets both; the
/// defaults serve `make run`). A value CloudWatch would refuse stops the
/// function here: it would otherwise drop every line's metrics in silence.
pub fn telemetry(get: &impl Fn(&str) -> Option<String>) -> Result<Settings, ConfigError> {
    let defaults = Settings::default();
    let value = |var: &'static str, default: String, problem: fn(&str) -> Option<String>| {
        let v = get(var).filter(|v| !v.is_empty()).unwrap_or(default);
        match problem(&v) {
            Some(p) => Err(err(var, p)),
            None => Ok(v),
        }
    };
    Ok(Settings {
        namespace: value(
            "METRICS_NAMESPACE",
            defaults.namespace,
            emf::namespace_problem,
        )?,
        service: value(
            "SERVICE_NAME",
            defaults.service,
            emf::dimension_value_problem,
        )?,
    })
}

/// `SDK_ATTEMPT_TIMEOUT_MS` and `SDK_OPERATION_TIMEOUT_MS` with these
/// defaults: the function's, or `customers-admin`'s longer ones (a scan page
/// or a batch of writes from an operator's laptop is not a warm Lambda).
pub fn sdk_timeouts(
    get: &impl Fn(&str) -> Option<String>,
    default_attempt_ms: u64,
    default_operation_ms: u64,
) -> Result<(Duration, Duration), ConfigError> {
    let attempt_ms = number(
        get,
        "SDK_ATTEMPT_TIMEOUT_MS",
        default_attempt_ms,
        50,
        60_000,
    )?;
    let operation_ms = number(
        get,
        "SDK_OPERATION_TIMEOUT_MS",
        default_operation_ms.max(attempt_ms),
        50,
        120_000,
    )?;
    if operation_ms < attempt_ms {
        return Err(err(
            "SDK_OPERATION_TIMEOUT_MS",
            "must be at least SDK_ATTEMPT_TIMEOUT_MS",
        ));
    }
    Ok((
        Duration::from_millis(attempt_ms),
        Duration::from_millis(operation_ms),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let mut m: HashMap<String, String> = HashMap::from([
            ("TABLE_NAME".into(), "t".into()),
            ("API_KEYS_PARAMETER".into(), "/p".into()),
        ]);
        for (k, v) in pairs {
            m.insert((*k).into(), (*v).into());
        }
        Config::from_lookup(|k| m.get(k).cloned())
    }

    #[test]
    fn defaults() {
        let c = cfg(&[]).unwrap();
        assert_eq!(c.keys_ttl, Duration::from_secs(60));
        assert_eq!(c.keys_max_stale, Duration::from_secs(300));
        assert!(!c.require_if_match);
        assert_eq!(c.idempotency_ttl, Duration::from_secs(86_400));
        assert!(!c.require_idempotency_key);
        assert_eq!(c.strategies, Strategies::default());
        assert_eq!(c.telemetry, Settings::default());
    }

    #[test]
    fn metrics_settings_are_checked() {
        let c = cfg(&[
            ("METRICS_NAMESPACE", "Team/Customers"),
            ("SERVICE_NAME", "prod-customers"),
        ])
        .unwrap();
        assert_eq!(c.telemetry.namespace, "Team/Customers");
        assert_eq!(c.telemetry.service, "prod-customers");
        assert_eq!(
            cfg(&[("METRICS_NAMESPACE", "AWS/Lambda")]).unwrap_err().var,
            "METRICS_NAMESPACE"
        );
        assert_eq!(
            cfg(&[("METRICS_NAMESPACE", "a\"b")]).unwrap_err().var,
            "METRICS_NAMESPACE"
        );
        assert_eq!(
            cfg(&[("SERVICE_NAME", ":x")]).unwrap_err().var,
            "SERVICE_NAME"
        );
    }

    #[test]
    fn bad_values_name_the_variable() {
        let e = cfg(&[("PATCH_STRATEGY", "address=sideways")]).unwrap_err();
        assert_eq!(e.var, "PATCH_STRATEGY");
        assert!(e.to_string().contains("sideways"));
        assert_eq!(
            cfg(&[("REQUIRE_IF_MATCH", "yes")]).unwrap_err().var,
            "REQUIRE_IF_MATCH"
        );
        assert_eq!(
            cfg(&[("API_KEYS_TTL_SECONDS", "-1")]).unwrap_err().var,
            "API_KEYS_TTL_SECONDS"
        );
        assert_eq!(
            cfg(&[("API_KEYS_TTL_SECONDS", "600")]).unwrap_err().var,
            "API_KEYS_MAX_STALE_SECONDS"
        );
        for bad in ["59", "604801", "a day"] {
            assert_eq!(
                cfg(&[("IDEMPOTENCY_TTL_SECONDS", bad)]).unwrap_err().var,
                "IDEMPOTENCY_TTL_SECONDS"
            );
        }
        assert_eq!(
            cfg(&[("REQUIRE_IDEMPOTENCY_KEY", "always")])
                .unwrap_err()
                .var,
            "REQUIRE_IDEMPOTENCY_KEY"
        );
        assert!(
            cfg(&[("REQUIRE_IDEMPOTENCY_KEY", "TRUE")])
                .unwrap()
                .require_idempotency_key
        );
        let missing = Config::from_lookup(|_| None).unwrap_err();
        assert_eq!(missing.var, "TABLE_NAME");
    }
}
