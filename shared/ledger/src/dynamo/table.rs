//! Creating the ledger's table (tests and local setups; on AWS the CDK app
//! owns it): keys, the sparse `due` index, on-demand billing and TTL.

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, IndexStatus, KeySchemaElement, KeyType,
    Projection, ProjectionType, ScalarAttributeType, TableStatus, TimeToLiveSpecification,
    TimeToLiveStatus,
};

use super::error::{DynamoError, build_error};
use super::items::{DUE_INDEX, PK, SK};
use crate::LedgerError;

const OP: &str = "create the ledger table";
/// How often, and how many times, to look whether the table is active.
const POLL: Duration = Duration::from_millis(200);
const POLLS: u32 = 600;

pub(crate) async fn create(client: &Client, table: &str) -> Result<(), LedgerError> {
    let created = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .set_attribute_definitions(Some(
            [PK, SK, "due_pk", "due_sk"]
                .into_iter()
                .map(|name| {
                    AttributeDefinition::builder()
                        .attribute_name(name)
                        .attribute_type(ScalarAttributeType::S)
                        .build()
                })
                .collect::<Result<_, _>>()
                .map_err(build_error(OP))?,
        ))
        .set_key_schema(Some(key_schema(PK, SK)?))
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(DUE_INDEX)
                .set_key_schema(Some(key_schema("due_pk", "due_sk")?))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .map_err(build_error(OP))?,
        )
        .send()
        .await;
    match created {
        Ok(_) => {}
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_resource_in_use_exception()) => {}
        Err(err) => return Err(DynamoError::sdk("CreateTable", table, err).during(OP)),
    }
    wait_until_active(client, table).await?;
    enable_ttl(client, table).await
}

fn key_schema(hash: &str, range: &str) -> Result<Vec<KeySchemaElement>, LedgerError> {
    [(hash, KeyType::Hash), (range, KeyType::Range)]
        .into_iter()
        .map(|(name, key_type)| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(key_type)
                .build()
        })
        .collect::<Result<_, _>>()
        .map_err(build_error(OP))
}

async fn wait_until_active(client: &Client, table: &str) -> Result<(), LedgerError> {
    for _ in 0..POLLS {
        let out = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| DynamoError::sdk("DescribeTable", table, e).during(OP))?;
        if let Some(desc) = out.table {
            let indexes_active = desc
                .global_secondary_indexes()
                .iter()
                .all(|index| index.index_status() == Some(&IndexStatus::Active));
            if desc.table_status() == Some(&TableStatus::Active) && indexes_active {
                return Ok(());
            }
        }
        tokio::time::sleep(POLL).await;
    }
    Err(DynamoError::other(
        "DescribeTable",
        table,
        format!("table not active after {:?}", POLL * POLLS),
        true,
    )
    .during(OP))
}

async fn enable_ttl(client: &Client, table: &str) -> Result<(), LedgerError> {
    let current = client
        .describe_time_to_live()
        .table_name(table)
        .send()
        .await
        .map_err(|e| DynamoError::sdk("DescribeTimeToLive", table, e).during(OP))?;
    let enabled = current.time_to_live_description.is_some_and(|ttl| {
        matches!(
            ttl.time_to_live_status(),
            Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
        )
    });
    if enabled {
        return Ok(());
    }
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .enabled(true)
                .attribute_name("ttl")
                .build()
                .map_err(build_error(OP))?,
        )
        .send()
        .await
        .map_err(|e| DynamoError::sdk("UpdateTimeToLive", table, e).during(OP))?;
    Ok(())
}
