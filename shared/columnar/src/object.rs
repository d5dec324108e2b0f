//! Reading one input object, whichever way AWS delivered it: native Parquet
//! (by its `PAR1` magic) through the Parquet reader, everything else (text,
//! Firehose records, CloudWatch Logs payloads; gzip or plain) through the
//! flow log parser, headerless sources in their configured formats.

use bytes::Bytes;
use flowlog::{Checkpoint, Container, FileReport, FlowTable, Formats, Parser, Restart, Unbounded};

/// Reads input objects one after another, reusing the parser's buffers.
#[derive(Debug, Default)]
pub struct ObjectReader {
    parser: Parser,
}

impl ObjectReader {
    /// A reader of headerless sources in `formats`.
    pub fn new(formats: Formats) -> Self {
        ObjectReader {
            parser: Parser::new(formats),
        }
    }

    /// Appends the records of the object at `key` to `table`. An object named
    /// `.parquet` must be Parquet: its name is never overruled by a guess.
    pub fn read(&mut self, key: &str, data: Bytes, table: &mut FlowTable) -> FileReport {
        Unbounded::read(|unbounded| self.read_with(key, data, table, unbounded))
    }

    /// [`ObjectReader::read`], calling `checkpoint` between chunks (see
    /// [`flowlog::Checkpoint`]).
    pub fn read_with(
        &mut self,
        key: &str,
        data: Bytes,
        table: &mut FlowTable,
        checkpoint: &mut dyn Checkpoint,
    ) -> Result<FileReport, Restart> {
        match Container::of(&data) {
            Container::Parquet => crate::read_native_with(key, data, table, checkpoint),
            _ if key.ends_with(".parquet") => Ok(FileReport::rejected(
                key,
                "named .parquet but not Apache Parquet (no PAR1 magic)".to_owned(),
            )),
            _ => self.parser.parse_object_with(key, &data, table, checkpoint),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parquet_by_magic_and_a_parquet_name_is_kept_to() {
        let mut table = FlowTable::new();
        flowlog::parse_object(
            "t",
            b"2 1 eni-1 10.0.0.1 10.0.0.2 443 1024 6 1 40 100 159 ACCEPT OK\n",
            &mut table,
        );
        let parquet = crate::write_parquet(&table, &crate::WriteOptions::default())
            .unwrap()
            .remove(0);
        let mut reader = ObjectReader::default();
        let mut back = FlowTable::new();
        // The content decides, whatever the name.
        for key in ["a.log.parquet", "a.log.gz"] {
            let report = reader.read(key, parquet.clone(), &mut back);
            assert_eq!(report.records, 1, "{key}");
        }
        let text =
            Bytes::from_static(b"2 1 eni-1 10.0.0.1 10.0.0.2 443 1024 6 1 40 100 159 ACCEPT OK\n");
        let report = reader.read("b.log.parquet", text.clone(), &mut back);
        assert!(report.bad_file.unwrap().reason.contains("no PAR1 magic"));
        assert_eq!(reader.read("b.log", text, &mut back).records, 1);
    }
}
