//! The S3 delivery layout, gzip encoding (single and multi-member) and writing
//! files, including the deliberately bad files.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use flate2::{Compression, GzBuilder};

use crate::GenError;
use crate::model::FlowLog;
use crate::rng::Dice;
use crate::traffic::{Rec, Sim, WINDOW};
use crate::truth::Truth;

fn at(secs: i64) -> Result<DateTime<Utc>, GenError> {
    DateTime::from_timestamp(secs, 0)
        .ok_or_else(|| GenError::InvalidOptions(format!("time {secs} is out of range")))
}

/// `YYYYMMDDTHHmmZ`, the delivery stamp in file names.
pub(crate) fn file_stamp(secs: i64) -> Result<String, GenError> {
    Ok(at(secs)?.format("%Y%m%dT%H%MZ").to_string())
}

/// `2026-11-22T13:05Z`, the window key in the truth.
pub(crate) fn window_key(secs: i64) -> Result<String, GenError> {
    Ok(at(secs)?.format("%Y-%m-%dT%H:%MZ").to_string())
}

/// Relative path of a delivered object:
/// `AWSLogs/{account}/vpcflowlogs/{region}/{yyyy}/{mm}/{dd}/{account}_vpcflowlogs_{region}_{fl-id}_{stamp}_{hash}{ext}`.
pub(crate) fn object_path(
    fl: &FlowLog,
    delivery: i64,
    hash: &str,
    ext: &str,
) -> Result<PathBuf, GenError> {
    let t = at(delivery)?;
    let mut p = PathBuf::from("AWSLogs");
    p.push(&fl.account);
    p.push("vpcflowlogs");
    p.push(fl.region.name);
    p.push(t.format("%Y").to_string());
    p.push(t.format("%m").to_string());
    p.push(t.format("%d").to_string());
    p.push(format!(
        "{}_vpcflowlogs_{}_{}_{}_{}{}",
        fl.account,
        fl.region.name,
        fl.id,
        file_stamp(delivery)?,
        hash,
        ext
    ));
    Ok(p)
}

fn gzip_member(out: &mut Vec<u8>, data: &[u8]) -> std::io::Result<()> {
    let mut enc = GzBuilder::new()
        .mtime(0)
        .operating_system(255)
        .write(std::mem::take(out), Compression::new(6));
    enc.write_all(data)?;
    *out = enc.finish()?;
    Ok(())
}

/// Gzip `text` at level 6; with `two_members`, as two concatenated gzip members
/// split at the line boundary nearest the middle.
pub(crate) fn gzip(text: &[u8], two_members: bool) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 6 + 64);
    let split = if two_members {
        text[..text.len() / 2]
            .iter()
            .rposition(|&b| b == b'\n')
            .map(|i| i + 1)
            .filter(|&i| i > 0 && i < text.len())
    } else {
        None
    };
    match split {
        Some(i) => {
            gzip_member(&mut out, &text[..i])?;
            gzip_member(&mut out, &text[i..])?;
        }
        None => gzip_member(&mut out, text)?,
    }
    Ok(out)
}

/// Write `bytes` to `root/rel`, creating directories; returns the byte count.
pub(crate) fn write_file(root: &Path, rel: &Path, bytes: &[u8]) -> Result<u64, GenError> {
    let path = root.join(rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| GenError::io(parent, e))?;
    }
    std::fs::write(&path, bytes).map_err(|e| GenError::io(&path, e))?;
    Ok(bytes.len() as u64)
}

const ERROR_PAGE: &str = "<!DOCTYPE html>\n\
<html>\n\
<head><title>503 Service Unavailable</title></head>\n\
<body>\n\
<h1>Service Unavailable</h1>\n\
<p>The server is temporarily unable to service your request. Please try again later.</p>\n\
</body>\n\
</html>\n";

/// Write the two bad files into `fl`'s layout at `delivery`: a gzip of real-looking
/// records cut in half, and a plain-text `.log` that is an HTML error page.
pub(crate) fn write_bad_files(
    root: &Path,
    fl: &FlowLog,
    delivery: i64,
    flows_per_eni: usize,
    dice: &mut Dice,
) -> Result<Truth, GenError> {
    let mut truth = Truth::default();

    let mut sim = Sim::with_salt(fl, flows_per_eni, 99);
    let mut recs: Vec<Rec> = Vec::new();
    sim.window(delivery - WINDOW, &mut recs);
    let mut text = String::new();
    fl.format.push_header(&mut text);
    for rec in &recs {
        crate::format::push_record(&mut text, fl, rec, None);
    }
    let gz = gzip(text.as_bytes(), false).map_err(|e| GenError::io(root, e))?;
    let cut = &gz[..gz.len() / 2];
    let rel = object_path(fl, delivery, &dice.hex(8), ".log.gz")?;
    truth.bytes += write_file(root, &rel, cut)?;

    let rel = object_path(fl, delivery, &dice.hex(8), ".log")?;
    truth.bytes += write_file(root, &rel, ERROR_PAGE.as_bytes())?;

    truth.files = 2;
    truth.bad_files = 2;
    Ok(truth)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read as _;

    #[test]
    fn stamps() {
        let t = 1_795_352_400 + 5 * 60;
        assert_eq!(file_stamp(t).unwrap(), "20261122T1305Z");
        assert_eq!(window_key(t).unwrap(), "2026-11-22T13:05Z");
    }

    #[test]
    fn two_members_round_trip() {
        let text = b"a b c\nd e f\ng h i\nj k l\n";
        let one = gzip(text, false).unwrap();
        let two = gzip(text, true).unwrap();
        assert_ne!(one, two);
        // Two members: the single-member decoder stops after the first one.
        let mut first = String::new();
        flate2::read::GzDecoder::new(&two[..])
            .read_to_string(&mut first)
            .unwrap();
        assert_eq!(first, "a b c\nd e f\n");
        let mut all = Vec::new();
        flate2::read::MultiGzDecoder::new(&two[..])
            .read_to_end(&mut all)
            .unwrap();
        assert_eq!(all, text);
    }
}
