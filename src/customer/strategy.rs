//! `PATCH_STRATEGY`: the deployer's choice of merge or replace per object
//! member, parsed once at start-up.

use crate::customer::fields::{self, Field, Strategy};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Strategies {
    entries: Vec<(&'static str, Strategy)>,
}

impl Default for Strategies {
    /// The defaults of the field table.
    fn default() -> Self {
        Strategies {
            entries: fields::configurable()
                .filter_map(|f| f.strategy.map(|s| (f.name, s)))
                .collect(),
        }
    }
}

impl Strategies {
    /// Parses `address=replace,metadata=merge`. Members not named keep their
    /// default; an empty string means all defaults.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut out = Strategies::default();
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let Some((name, value)) = item.split_once('=') else {
                return Err(format!("`{item}` is not field=strategy"));
            };
            let (name, value) = (name.trim(), value.trim());
            let strategy = match value {
                "merge" => Strategy::Merge,
                "replace" => Strategy::Replace,
                other => return Err(format!("`{other}` for `{name}` is not merge or replace")),
            };
            let Some(slot) = out.entries.iter_mut().find(|(n, _)| *n == name) else {
                let allowed: Vec<_> = fields::configurable().map(|f| f.name).collect();
                return Err(format!("`{name}` is not one of {}", allowed.join(", ")));
            };
            slot.1 = strategy;
        }
        Ok(out)
    }

    pub fn get(&self, field: &Field) -> Option<Strategy> {
        self.entries
            .iter()
            .find(|(n, _)| *n == field.name)
            .map(|(_, s)| *s)
    }

    pub fn entries(&self) -> &[(&'static str, Strategy)] {
        &self.entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_and_defaults() {
        let s = Strategies::parse("address=replace, metadata=merge").unwrap();
        let got: Vec<_> = s.entries().iter().map(|(n, s)| (*n, s.as_str())).collect();
        assert_eq!(
            got,
            vec![
                ("address", "replace"),
                ("shipping", "replace"),
                ("metadata", "merge")
            ]
        );
        assert_eq!(Strategies::parse("").unwrap(), Strategies::default());
    }

    #[test]
    fn bad_values_say_why() {
        let e = Strategies::parse("address=sideways").unwrap_err();
        assert!(
            e.contains("sideways") && e.contains("merge or replace"),
            "{e}"
        );
        let e = Strategies::parse("tags=merge").unwrap_err();
        assert!(e.contains("address, shipping, metadata"), "{e}");
        assert!(Strategies::parse("address").is_err());
    }
}
