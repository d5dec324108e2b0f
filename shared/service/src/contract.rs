//! What the deployment must agree with the Rust code on, written out as
//! `infra/contract.json` so that the CDK app reads it instead of typing it
//! again. Today: the output schema of the Glue table, every catalogue field
//! and `records` with its Athena type. A test fails when the checked-in file
//! is stale; `FLOWMERGE_UPDATE_CONTRACT=1 cargo test -p service contract`
//! rewrites it.

use serde_json::{Value, json};

/// The contract as JSON, in a stable order.
pub fn contract() -> Value {
    let columns: Vec<Value> = columnar::athena_columns()
        .into_iter()
        .map(|(name, kind)| json!({ "name": name, "type": kind }))
        .collect();
    json!({
        "comment": "Generated from the Rust code by `FLOWMERGE_UPDATE_CONTRACT=1 cargo test -p service contract`; do not edit.",
        "glue": { "flowlogs": { "columns": columns } },
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn infra_contract_json_is_current() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../infra/contract.json");
        let text = serde_json::to_string_pretty(&contract()).unwrap() + "\n";
        if std::env::var_os("FLOWMERGE_UPDATE_CONTRACT").is_some() {
            std::fs::write(&path, &text).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == text,
            "{} is stale: run FLOWMERGE_UPDATE_CONTRACT=1 cargo test -p service contract",
            path.display()
        );
    }

    #[test]
    fn the_glue_table_has_every_catalogue_field_and_records() {
        let contract = contract();
        let columns = contract["glue"]["flowlogs"]["columns"].as_array().unwrap();
        assert_eq!(columns.len(), flowlog::CATALOGUE.len() + 1);
        let column =
            |name: &str| columns.iter().find(|c| c["name"] == name).unwrap()["type"].clone();
        assert_eq!(column("account_id"), "string");
        assert_eq!(column("srcport"), "int");
        assert_eq!(column("bytes"), "bigint");
        assert_eq!(column("records"), "bigint");
        assert_eq!(columns.last().unwrap()["name"], "records");
    }
}
