//! What the deployment must agree with the Rust code on, written out as
//! `infra/contract.json` so that the CDK app reads it instead of typing it
//! again. Today: the output schema of the Glue tables, every catalogue field
//! and `records` with its Athena type, and where each table's files lie:
//! `flowlogs` over the minute tier, `flowlogs_hourly` over the hour tier;
//! the environment variables each function reads ([`crate::Function`]) and
//! what each means when unset; and the metrics the functions publish
//! ([`control::metrics`]); and how the DynamoDB ledger marks a window failed,
//! which the state machine's `RecordFailure` state does too. A test fails when the checked-in file is stale;
//! `FLOWMERGE_UPDATE_CONTRACT=1 cargo test -p service contract` rewrites it.

use std::collections::BTreeMap;

use control::metrics::{self, Name};
use pipeline::split::WindowFrom;
use serde_json::{Value, json};

use crate::config::{Vars, env};
use crate::{
    ConfigError, FromVars, Function, IngestConfig, RedriveConfig, SchedulerConfig, StepConfig,
};

/// The contract as JSON, in a stable order; fails only if a function's
/// config cannot be read with its required variables alone.
pub fn contract() -> Result<Value, ConfigError> {
    let columns: Vec<Value> = columnar::athena_columns()
        .into_iter()
        .map(|(name, kind)| json!({ "name": name, "type": kind }))
        .collect();
    let metric_names: Vec<Value> = Name::ALL
        .iter()
        .map(|n| json!({ "name": n.spec().0, "unit": n.spec().1.as_str() }))
        .collect();
    let config = pipeline::Config::default();
    let root = |template: &str| pipeline::template_root(template).to_owned();
    let defaults = defaults()?;
    let functions: serde_json::Map<String, Value> = Function::ALL
        .iter()
        .map(|f| {
            let env: Vec<Value> = f
                .env()
                .iter()
                .map(|v| json!({ "name": v.name, "required": v.required, "default": defaults.get(v.name) }))
                .collect();
            (f.name().to_owned(), json!({ "env": env }))
        })
        .collect();
    Ok(json!({
        "comment": "Generated from the Rust code by `FLOWMERGE_UPDATE_CONTRACT=1 cargo test -p service contract`; do not edit.",
        "glue": {
            "columns": columns,
            "tables": {
                "flowlogs": { "root": root(&config.output_prefix), "tier": "minute" },
                "flowlogs_hourly": { "root": root(&config.hour_prefix), "tier": "hour" },
            },
        },
        "functions": functions,
        "ledger": { "fail": ledger::fail_write() },
        "metrics": {
            "namespace": metrics::NAMESPACE,
            "names": metric_names,
        },
    }))
}

/// What each setting is when its variable is unset, as the functions read it:
/// the values of each function's config read with only the variables that
/// have no default set.
fn defaults() -> Result<BTreeMap<&'static str, String>, ConfigError> {
    let no_default = |name: &str| {
        [
            env::TABLE_NAME,
            env::RAW_BUCKET,
            env::OUTPUT_BUCKET,
            env::STATE_MACHINE_ARN,
        ]
        .contains(&name)
        .then(|| "x".to_owned())
    };
    let vars = |function| Vars::of(function, no_default);
    let list_batch = StepConfig::read(&vars(Function::ListBatch))?.pipeline;
    let combine = StepConfig::read(&vars(Function::CombineCommit))?.pipeline;
    let scheduler = SchedulerConfig::read(&vars(Function::Scheduler))?;
    let redrive = RedriveConfig::read(&vars(Function::Redrive))?;
    let ingest = IngestConfig::read(&vars(Function::Ingest))?;
    let window_from = match ingest.start_split {
        None => WindowFrom::Key,
        Some(_) => WindowFrom::Start,
    };
    Ok(BTreeMap::from([
        (env::SETTLE_SECONDS, scheduler.settle_secs.to_string()),
        (env::MAX_GAP, list_batch.merge.max_gap.to_string()),
        (
            env::TARGET_FILE_SIZE,
            list_batch.merge.target_file_size.to_string(),
        ),
        (env::MAX_ATTEMPTS, redrive.max_attempts.to_string()),
        (env::WINDOW_FROM, window_from.to_string()),
        (env::ROLLUP, combine.rollup.to_string()),
    ]))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn infra_contract_json_is_current() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../infra/contract.json");
        let text = serde_json::to_string_pretty(&contract().unwrap()).unwrap() + "\n";
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
        let contract = contract().unwrap();
        let columns = contract["glue"]["columns"].as_array().unwrap();
        assert_eq!(columns.len(), flowlog::CATALOGUE.len() + 1);
        let column =
            |name: &str| columns.iter().find(|c| c["name"] == name).unwrap()["type"].clone();
        assert_eq!(column("account_id"), "string");
        assert_eq!(column("srcport"), "int");
        assert_eq!(column("bytes"), "bigint");
        assert_eq!(column("records"), "bigint");
        assert_eq!(columns.last().unwrap()["name"], "records");
    }

    /// README's table of Lambda variables names each variable a function
    /// reads, and no other (the test-only failpoints aside).
    #[test]
    fn the_readme_lists_every_variable_the_functions_read() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
        let readme = std::fs::read_to_string(path).unwrap();
        let section = readme.split("### Lambda environment").nth(1).unwrap();
        let section = section.split("\n### ").next().unwrap();
        // | `NAME` | used by | default | meaning |
        let rows: Vec<Vec<&str>> = section
            .lines()
            .filter(|l| l.starts_with("| `"))
            .map(|l| l.split('|').map(str::trim).collect())
            .filter(|cells: &Vec<&str>| cells[1] != format!("`{}`", pipeline::failpoint::ENV))
            .collect();
        let mut listed: Vec<&str> = rows
            .iter()
            .map(|cells| cells[1].trim_matches('`'))
            .collect();
        listed.sort_unstable();
        let mut read: Vec<&str> = Function::ALL
            .iter()
            .flat_map(|f| f.env())
            .map(|v| v.name)
            .collect();
        read.sort_unstable();
        read.dedup();
        assert_eq!(listed, read);
        // Each setting's default, as the table spells it, is the functions' own.
        for (name, default) in defaults().unwrap() {
            let row = rows.iter().find(|cells| cells[1] == format!("`{name}`"));
            assert_eq!(
                row.map(|cells| cells[3]),
                Some(format!("`{default}`").as_str()),
                "README's default of {name}"
            );
        }
    }

    #[test]
    fn each_table_lies_under_its_tiers_files() {
        let contract = contract().unwrap();
        let config = pipeline::Config::default();
        let minute: flowlog::Window = "2026-11-22T13:05Z".parse().unwrap();
        for (table, window) in [("flowlogs", minute), ("flowlogs_hourly", minute.hour())] {
            let root = contract["glue"]["tables"][table]["root"].as_str().unwrap();
            let key = pipeline::Layout::new(&config, window).output("d", 0);
            assert!(
                !root.is_empty() && key.starts_with(root),
                "{table}: {key} not under {root}"
            );
            // Partition projection expects year=/month=/day=/hour= under the root.
            assert!(
                key[root.len()..].starts_with("year=2026/month=11/day=22/hour=13/"),
                "{key}"
            );
        }
    }
}
