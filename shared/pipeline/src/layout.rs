//! Object keys: output partitions from templates, file names from the window
//! and the digest of its input set, manifests and staging under the work prefix.

use flowlog::Window;

/// Error output kinds, as in Firehose's `ErrorOutputPrefix`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ErrorType {
    /// Lines that do not fit their header.
    ParseFailed,
    /// Files that cannot be read at all.
    UnreadableFile,
}

impl ErrorType {
    /// Both kinds.
    pub const ALL: [ErrorType; 2] = [ErrorType::ParseFailed, ErrorType::UnreadableFile];

    /// `parse-failed` or `unreadable-file`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorType::ParseFailed => "parse-failed",
            ErrorType::UnreadableFile => "unreadable-file",
        }
    }
}

/// Renders a key template: `!{timestamp:FMT}` with `yyyy`, `MM`, `dd`, `HH`,
/// `mm` in FMT, and `!{error-type}`. Other text is kept as is.
pub fn render(template: &str, window: Window, error_type: Option<ErrorType>) -> String {
    let (year, month, day, hour, minute) = window.parts();
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(open) = rest.find("!{") {
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        out.push_str(&rest[..open]);
        let expr = &rest[open + 2..open + close];
        match expr.split_once(':') {
            Some(("timestamp", format)) => out.push_str(
                &format
                    .replace("yyyy", &format!("{year:04}"))
                    .replace("MM", &format!("{month:02}"))
                    .replace("dd", &format!("{day:02}"))
                    .replace("HH", &format!("{hour:02}"))
                    .replace("mm", &format!("{minute:02}")),
            ),
            _ if expr == "error-type" => out.push_str(error_type.map_or("", ErrorType::as_str)),
            _ => out.push_str(&rest[open..=open + close]),
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out
}

/// The fixed part of a key template, up to the `/` before its first
/// expression: where listing its keys starts.
pub fn template_root(template: &str) -> &str {
    let end = template.find("!{").unwrap_or(template.len());
    &template[..template[..end].rfind('/').map_or(0, |i| i + 1)]
}

/// Key names of one window.
#[derive(Debug, Clone)]
pub struct Layout<'a> {
    config: &'a crate::Config,
    window: Window,
}

impl<'a> Layout<'a> {
    /// Keys of `window` under `config`.
    pub fn new(config: &'a crate::Config, window: Window) -> Self {
        Layout { config, window }
    }

    /// Prefix shared by every output file of the window (any version):
    /// under the output prefix for a minute, the hour prefix for an hour.
    pub fn output_stem(&self) -> String {
        let template = if self.window.is_hour() {
            &self.config.hour_prefix
        } else {
            &self.config.output_prefix
        };
        format!(
            "{}{}-",
            render(template, self.window, None),
            self.window.stamp()
        )
    }

    /// Output file `part` for the input set `digest`.
    pub fn output(&self, digest: &str, part: usize) -> String {
        format!("{}{digest}-{part:04}.parquet", self.output_stem())
    }

    /// Prefix shared by every error file of the window for one kind.
    pub fn error_stem(&self, kind: ErrorType) -> String {
        format!(
            "{}{}-",
            render(&self.config.error_prefix, self.window, Some(kind)),
            self.window.stamp()
        )
    }

    /// Error file of one kind for the input set `digest`.
    pub fn error(&self, kind: ErrorType, digest: &str) -> String {
        format!("{}{digest}.jsonl", self.error_stem(kind))
    }

    /// Prefix of the window's manifests.
    pub fn manifests(&self) -> String {
        format!(
            "{}manifests/{}/",
            self.config.work_prefix,
            self.window.stamp()
        )
    }

    /// Manifest of a claimed version.
    pub fn manifest(&self, version: u64) -> String {
        format!("{}v{version:06}.json", self.manifests())
    }

    /// Item list of a claimed version, for a Distributed Map's `ItemReader`.
    pub fn items(&self, version: u64) -> String {
        format!("{}v{version:06}.items.json", self.manifests())
    }

    /// Prefix of the window's staging objects (all versions).
    pub fn staging(&self) -> String {
        format!(
            "{}staging/{}/",
            self.config.work_prefix,
            self.window.stamp()
        )
    }

    /// Staging key of one group's partial result, `ext` being `parquet`,
    /// `json` (stats) or `errors.jsonl`.
    pub fn partial(&self, version: u64, group: usize, ext: &str) -> String {
        format!("{}v{version:06}/group-{group:05}.{ext}", self.staging())
    }

    /// Staging key of one sorted part of a group's partial result (a group
    /// larger than its memory budget is staged in several).
    pub fn part(&self, version: u64, group: usize, part: u64) -> String {
        self.partial(version, group, &format!("{part:04}.parquet"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;

    fn window() -> Window {
        "2026-11-22T13:05Z".parse().unwrap()
    }

    #[test]
    fn renders_firehose_expressions() {
        let t = "flowlogs/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/hour=!{timestamp:HH}/m=!{timestamp:mm}/";
        assert_eq!(
            render(t, window(), None),
            "flowlogs/year=2026/month=11/day=22/hour=13/m=05/"
        );
        assert_eq!(
            render(
                "errors/!{error-type}/!{timestamp:yyyy/MM}/",
                window(),
                Some(ErrorType::ParseFailed)
            ),
            "errors/parse-failed/2026/11/"
        );
        assert_eq!(render("x/!{unknown}/", window(), None), "x/!{unknown}/");
        assert_eq!(render("x/!{open", window(), None), "x/!{open");
    }

    #[test]
    fn template_roots() {
        assert_eq!(
            template_root("flowlogs/year=!{timestamp:yyyy}/"),
            "flowlogs/"
        );
        assert_eq!(template_root("errors/!{error-type}/x/"), "errors/");
        assert_eq!(template_root("a/b/c/"), "a/b/c/");
        assert_eq!(template_root("!{timestamp:yyyy}/"), "");
    }

    #[test]
    fn keys_of_a_window() {
        let config = Config::default();
        let l = Layout::new(&config, window());
        assert_eq!(
            l.output("abcd", 1),
            "flowlogs/year=2026/month=11/day=22/hour=13/20261122T1305Z-abcd-0001.parquet"
        );
        assert!(l.output("abcd", 1).starts_with(&l.output_stem()));
        assert_eq!(
            l.error(ErrorType::UnreadableFile, "abcd"),
            "errors/unreadable-file/year=2026/month=11/day=22/20261122T1305Z-abcd.jsonl"
        );
        assert_eq!(
            l.manifest(3),
            "_flowmerge/manifests/20261122T1305Z/v000003.json"
        );
        assert_eq!(
            l.part(3, 2, 0),
            "_flowmerge/staging/20261122T1305Z/v000003/group-00002.0000.parquet"
        );
        assert!(l.partial(3, 2, "json").starts_with(&l.staging()));
        let hour = Layout::new(&config, window().hour());
        assert_eq!(
            hour.output("abcd", 0),
            "flowlogs-hourly/year=2026/month=11/day=22/hour=13/20261122T13Z-abcd-0000.parquet"
        );
        assert_eq!(
            hour.manifest(1),
            "_flowmerge/manifests/20261122T13Z/v000001.json"
        );
    }
}
