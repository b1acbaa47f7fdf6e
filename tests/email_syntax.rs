//! The email rule against its reference (SPEC §4): python `email-validator`
//! (defaults, no DNS check) judges every address of
//! `tests/fixtures/emails.jsonl` through `scripts/email_verdicts.py`, and our
//! parser must agree on each: the same verdict, and for a valid address the
//! same normal form. An entry marked `differs` is a deliberate difference:
//! our verdict is its `ours`, email-validator's the opposite, and the README
//! lists the tag. No stack needed; the checkout's `.venv` (`make tools`) is.

use std::path::Path;
use std::process::Command;

use customers_api::customer::email;
use serde_json::Value;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn corpus() -> Vec<Value> {
    let path = root().join("tests/fixtures/emails.jsonl");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .split('\n')
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

fn reference_verdicts() -> Vec<Value> {
    let python = root().join(".venv/bin/python");
    assert!(
        python.exists(),
        "\n\n{} is missing: run `make tools` (it installs email-validator from tools/requirements.txt)\n\n",
        python.display()
    );
    let out = Command::new(&python)
        .arg(root().join("scripts/email_verdicts.py"))
        .arg(root().join("tests/fixtures/emails.jsonl"))
        .output()
        .expect("run scripts/email_verdicts.py");
    assert!(
        out.status.success(),
        "email_verdicts.py failed (is email-validator installed? `make tools`): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("UTF-8 output")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON verdict"))
        .collect()
}

#[test]
fn we_agree_with_email_validator_on_every_corpus_entry() {
    let entries = corpus();
    let theirs = reference_verdicts();
    assert_eq!(entries.len(), theirs.len(), "one verdict per entry");
    assert!(entries.len() >= 200, "the corpus is not that small");
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    let mut disagreements = Vec::new();
    let (mut valid, mut invalid) = (0, 0);
    for (entry, them) in entries.iter().zip(&theirs) {
        let address = entry["email"].as_str().expect("email is a string");
        let ours = email::parse(address);
        let their_ok = them["valid"] == Value::Bool(true);
        if ours.is_ok() {
            valid += 1;
        } else {
            invalid += 1;
        }
        let show = format!(
            "{:?} ({}): ours {:?}, email-validator {}",
            address, entry["why"], ours, them
        );
        if let Some(tag) = entry["differs"].as_str() {
            let expected = entry["ours"]
                .as_bool()
                .expect("a differing entry says `ours`");
            if ours.is_ok() != expected || their_ok == expected {
                disagreements.push(format!(
                    "deliberate difference `{tag}` no longer holds: {show}"
                ));
            }
            if !readme.contains(&format!("`{tag}`")) {
                disagreements.push(format!("README does not list the difference `{tag}`"));
            }
            continue;
        }
        match (&ours, their_ok) {
            (Ok(e), true) if Some(e.norm.as_str()) == them["norm"].as_str() => {}
            (Err(_), false) => {}
            _ => disagreements.push(show),
        }
    }
    assert!(
        disagreements.is_empty(),
        "{} disagreement(s) with email-validator:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
    // Both kinds are well represented, so neither verdict wins by default.
    assert!(
        valid >= 60 && invalid >= 100,
        "valid {valid}, invalid {invalid}"
    );
}

/// Trimming is the one deliberate difference in our favour: every trimmed
/// entry must then be exactly what email-validator makes of the trimmed form.
#[test]
fn trimmed_entries_agree_once_trimmed() {
    for entry in corpus() {
        if entry["differs"] != "trim" {
            continue;
        }
        let address = entry["email"].as_str().unwrap_or_default();
        let ours = email::parse(address).expect("valid once trimmed");
        assert_eq!(ours.stored, address.trim());
        assert_eq!(email::parse(address.trim()), Ok(ours));
    }
}
