//! The email invariant of SPEC §4, checked over a whole table: every
//! sentinel is owned by a customer holding that email, and every customer
//! holding an email owns its sentinel. For tests and operators.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;

use crate::customer::email;
use crate::store::item::{CUSTOMER_KIND, EMAIL_KIND, IDEM_KIND, attr};

fn s<'a>(item: &'a HashMap<String, AttributeValue>, k: &str) -> Option<&'a str> {
    match item.get(k) {
        Some(AttributeValue::S(v)) => Some(v),
        _ => None,
    }
}

/// Scans the table (consistently) and lists every violation; empty is good.
/// Reports name customer ids and sentinel keys' owners only, not emails.
pub async fn violations(client: &Client, table: &str) -> Result<Vec<String>, String> {
    let mut customers: HashMap<String, Option<String>> = HashMap::new();
    let mut sentinels: HashMap<String, String> = HashMap::new();
    let mut start = None;
    loop {
        let out = client
            .scan()
            .table_name(table)
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| format!("scan failed: {e:?}"))?;
        for item in out.items() {
            let pk = s(item, attr::PK).unwrap_or_default();
            match s(item, attr::KIND) {
                Some(CUSTOMER_KIND) => {
                    let id = s(item, "customerId").unwrap_or_default().to_owned();
                    let norm = s(item, attr::EMAIL_NORM).map(str::to_owned);
                    let derived = s(item, "email").map(email::normalize);
                    if norm != derived {
                        return Err(format!("customer {id}: emailNorm does not match email"));
                    }
                    customers.insert(id, norm);
                }
                Some(EMAIL_KIND) => {
                    let norm = pk.strip_prefix("email#").unwrap_or_default().to_owned();
                    sentinels.insert(norm, s(item, attr::OWNER).unwrap_or_default().to_owned());
                }
                Some(IDEM_KIND) => {}
                _ => return Err(format!("item of unknown kind: {pk}")),
            }
        }
        match out.last_evaluated_key {
            Some(k) => start = Some(k),
            None => break,
        }
    }
    let mut bad = Vec::new();
    for (norm, owner) in &sentinels {
        match customers.get(owner) {
            Some(Some(held)) if held == norm => {}
            Some(_) => bad.push(format!(
                "sentinel owned by {owner}, who does not hold that email"
            )),
            None => bad.push(format!("sentinel owned by missing customer {owner}")),
        }
    }
    for (id, norm) in &customers {
        if let Some(n) = norm
            && sentinels.get(n) != Some(id)
        {
            bad.push(format!(
                "customer {id} holds an email without owning its sentinel"
            ));
        }
    }
    bad.sort();
    Ok(bad)
}
