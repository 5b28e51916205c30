//! A feeder file's records, read from any byte offset: CSV (a header line of
//! field names, one record a row; an empty cell is a field left out) or JSON
//! Lines (one object a line; blank lines skipped; `null` is a field left out).
//! Each record comes out as a JSON object of the contract's field names.
//!
//! What a file costs in memory is a sparse index: the byte offset of every
//! [`STRIDE`]th record (8 bytes per 64 rows). Row `k` is read by seeking to
//! the offset of record `k - k % STRIDE` and reading on; a reader that is
//! already just before row `k` (a queue, a circular feeder) reads on without
//! seeking.

use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::Path;

use serde_json::{Map, Value};

/// Records between two entries of the index.
pub const STRIDE: u64 = 64;

/// A record as the file holds it.
#[derive(Debug)]
pub(super) struct Record {
    /// Line of the file it starts on (1-based).
    pub line: u64,
    /// Byte offset it starts at.
    pub offset: u64,
    /// Its fields.
    pub fields: Map<String, Value>,
}

/// The file's format, from its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Format {
    Csv,
    Jsonl,
}

impl Format {
    /// `.csv`, or `.jsonl` / `.ndjson`.
    pub(super) fn of(path: &Path) -> Option<Format> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "csv" => Some(Format::Csv),
            "jsonl" | "ndjson" => Some(Format::Jsonl),
            _ => None,
        }
    }
}

/// A reader of records from a position of the file.
pub(super) enum Reader {
    Csv {
        reader: csv::Reader<File>,
        headers: Vec<String>,
        record: csv::StringRecord,
    },
    Jsonl {
        reader: BufReader<File>,
        line: u64,
        offset: u64,
        text: String,
    },
}

impl Reader {
    /// A reader at the first record of `path` (for a CSV file: after its
    /// header, whose names it keeps).
    pub(super) fn open(path: &Path, format: Format) -> Result<Reader, String> {
        let file = File::open(path).map_err(|e| e.to_string())?;
        Ok(match format {
            Format::Csv => {
                let mut reader = csv::ReaderBuilder::new()
                    .has_headers(true)
                    .from_reader(file);
                let headers = reader
                    .headers()
                    .map_err(|e| format!("line 1 (the header): {e}"))?
                    .iter()
                    .map(|h| h.trim().to_owned())
                    .collect();
                Reader::Csv {
                    reader,
                    headers,
                    record: csv::StringRecord::new(),
                }
            }
            Format::Jsonl => Reader::Jsonl {
                reader: BufReader::new(file),
                line: 0,
                offset: 0,
                text: String::new(),
            },
        })
    }

    /// The CSV header's field names (none for JSON Lines).
    pub(super) fn headers(&self) -> &[String] {
        match self {
            Reader::Csv { headers, .. } => headers,
            Reader::Jsonl { .. } => &[],
        }
    }

    /// Go to the record starting at byte `offset` (line numbers are not kept
    /// after a seek).
    pub(super) fn seek(&mut self, to: u64) -> Result<(), String> {
        match self {
            Reader::Csv { reader, .. } => {
                let mut at = csv::Position::new();
                at.set_byte(to);
                reader.seek(at).map_err(|e| e.to_string())
            }
            Reader::Jsonl { reader, offset, .. } => {
                reader
                    .seek(SeekFrom::Start(to))
                    .map_err(|e| e.to_string())?;
                *offset = to;
                Ok(())
            }
        }
    }

    /// The next record; `Ok(None)` at the end of the file; `Err((line,
    /// message))` for a record that is not CSV or not a JSON object (the
    /// message never quotes the record).
    pub(super) fn next(&mut self) -> Result<Option<Record>, (u64, String)> {
        match self {
            Reader::Csv {
                reader,
                headers,
                record,
            } => {
                let line = reader.position().line();
                let read = reader.read_record(record).map_err(|e| {
                    let line = e.position().map_or(line, csv::Position::line);
                    (line, csv_error(&e))
                })?;
                if !read {
                    return Ok(None);
                }
                let at = record
                    .position()
                    .cloned()
                    .unwrap_or_else(csv::Position::new);
                let fields = headers
                    .iter()
                    .zip(record.iter())
                    .filter(|(_, v)| !v.is_empty())
                    .map(|(h, v)| (h.clone(), Value::String(v.to_owned())))
                    .collect();
                Ok(Some(Record {
                    line: at.line(),
                    offset: at.byte(),
                    fields,
                }))
            }
            Reader::Jsonl {
                reader,
                line,
                offset,
                text,
            } => loop {
                text.clear();
                let start = *offset;
                let n = reader
                    .read_line(text)
                    .map_err(|e| (*line + 1, e.to_string()))?;
                if n == 0 {
                    return Ok(None);
                }
                *line += 1;
                *offset += n as u64;
                if text.trim().is_empty() {
                    continue;
                }
                let fields: Map<String, Value> = match serde_json::from_str(text) {
                    Ok(Value::Object(o)) => o,
                    Ok(_) => return Err((*line, "not a JSON object".to_owned())),
                    Err(e) => {
                        return Err((
                            *line,
                            format!("not JSON (column {}: {})", e.column(), e.classify_name()),
                        ));
                    }
                };
                let fields = fields.into_iter().filter(|(_, v)| !v.is_null()).collect();
                return Ok(Some(Record {
                    line: *line,
                    offset: start,
                    fields,
                }));
            },
        }
    }
}

/// What is wrong with a CSV record, without its text.
fn csv_error(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("{len} cells where the header has {expected_len}"),
        csv::ErrorKind::Utf8 { .. } => "not UTF-8".to_owned(),
        csv::ErrorKind::Io(io) => io.to_string(),
        _ => "not CSV".to_owned(),
    }
}

/// The name of a `serde_json` error's category.
trait Classify {
    fn classify_name(&self) -> &'static str;
}

impl Classify for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "I/O error",
            serde_json::error::Category::Syntax => "syntax error",
            serde_json::error::Category::Data => "wrong type",
            serde_json::error::Category::Eof => "ends too soon",
        }
    }
}
