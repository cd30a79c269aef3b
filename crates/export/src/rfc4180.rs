//! CSV as RFC 4180 writes it: fields separated by commas, records ended by CRLF, a field quoted
//! (with its quotes doubled) when it holds a comma, a quote, a CR or an LF, or starts or ends
//! with a space. The first record names the columns. Every spreadsheet and Python's `csv` read
//! it back field for field.

use crate::error::ExportError;
use std::io::Write;
use std::path::Path;

pub(crate) struct CsvWriter<'w> {
    out: &'w mut dyn Write,
    path: &'w Path,
    columns: usize,
}

impl<'w> CsvWriter<'w> {
    /// A writer whose first record is `header`; `path` names the file in errors.
    pub(crate) fn new(
        out: &'w mut dyn Write,
        path: &'w Path,
        header: &[&str],
    ) -> Result<Self, ExportError> {
        let mut w = Self {
            out,
            path,
            columns: header.len(),
        };
        w.record(header)?;
        Ok(w)
    }

    /// One record; it must have as many fields as the header.
    pub(crate) fn record<S: AsRef<str>>(&mut self, fields: &[S]) -> Result<(), ExportError> {
        debug_assert_eq!(
            fields.len(),
            self.columns,
            "a CSV record of the wrong width"
        );
        let mut line = String::new();
        for (i, f) in fields.iter().enumerate() {
            if i > 0 {
                line.push(',');
            }
            push_field(&mut line, f.as_ref());
        }
        line.push_str("\r\n");
        self.out
            .write_all(line.as_bytes())
            .map_err(ExportError::io(self.path, "writing"))
    }
}

fn push_field(line: &mut String, field: &str) {
    let quote =
        field.contains([',', '"', '\r', '\n']) || field.starts_with(' ') || field.ends_with(' ');
    if !quote {
        line.push_str(field);
        return;
    }
    line.push('"');
    line.push_str(&field.replace('"', "\"\""));
    line.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csv(records: &[&[&str]]) -> String {
        let mut bytes = Vec::new();
        let mut w = CsvWriter::new(&mut bytes, Path::new("t.csv"), records[0]).unwrap();
        for r in &records[1..] {
            w.record(r).unwrap();
        }
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn fields_are_quoted_only_when_they_must_be() {
        assert_eq!(
            csv(&[
                &["a", "b"],
                &["plain", "with, comma"],
                &["say \"hi\"", "two\r\nlines"],
                &["", " padded"],
                &["Thom De'Fer", "Zoë"],
            ]),
            "a,b\r\nplain,\"with, comma\"\r\n\"say \"\"hi\"\"\",\"two\r\nlines\"\r\n,\" padded\"\r\nThom De'Fer,Zoë\r\n"
        );
    }
}
