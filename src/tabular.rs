//! Spreadsheet files in and out: CSV (UTF-8, or GBK as Excel in China writes it), XLSX and JSON
//! Lines read into rows of named cells; sheets written as CSV or XLSX. No knowledge of the
//! libraries: `import` and the exports give the columns their meaning.

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};
use serde_json::Value;

/// The media type of an XLSX workbook.
pub const XLSX_TYPE: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// The formats a file can come in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Xlsx,
    JsonLines,
}

impl Format {
    pub fn parse(text: &str) -> Result<Format, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "csv" => Ok(Format::Csv),
            "xlsx" => Ok(Format::Xlsx),
            "jsonl" | "ndjson" | "json" => Ok(Format::JsonLines),
            other => Err(format!("unknown format `{other}`: use csv, xlsx or jsonl")),
        }
    }

    /// The format a file name's extension names, if any.
    pub fn from_name(name: &str) -> Option<Format> {
        let ext = name.rsplit('.').next()?.to_ascii_lowercase();
        Format::parse(&ext).ok()
    }

    /// What the bytes look like: a ZIP container is XLSX, a first `{` JSON Lines, else CSV.
    pub fn sniff(bytes: &[u8]) -> Format {
        if bytes.starts_with(b"PK\x03\x04") {
            return Format::Xlsx;
        }
        let text = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(bytes);
        match text.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'{') => Format::JsonLines,
            _ => Format::Csv,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
            Format::JsonLines => "jsonl",
        }
    }
}

/// The text encoding of a CSV file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Utf8,
    /// GBK, read as its superset GB 18030.
    Gbk,
}

impl Encoding {
    pub fn parse(text: &str) -> Result<Encoding, String> {
        match text.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "utf-8" | "utf8" => Ok(Encoding::Utf8),
            "gbk" | "gb2312" | "gb18030" | "cp936" => Ok(Encoding::Gbk),
            other => Err(format!("unknown encoding `{other}`: use utf-8 or gbk")),
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Encoding::Utf8 => "utf-8",
            Encoding::Gbk => "gbk",
        }
    }
}

/// A file read into rows. `number` is what a person sees: the spreadsheet row (the header is
/// row 1) or the line of a JSON Lines file.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub format: Format,
    /// The CSV's encoding, as given or detected.
    pub encoding: Option<Encoding>,
    /// Column headers in file order (for JSON Lines, every key seen).
    pub headers: Vec<String>,
    pub rows: Vec<Row>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub number: usize,
    /// (header, value): text for CSV and XLSX cells, any JSON for JSON Lines.
    pub cells: Vec<(String, Value)>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReadError {
    #[error("the file is empty")]
    Empty,
    #[error("the file has no header row: put the column names in the first row")]
    NoHeader,
    #[error("line {line}: {message}")]
    Line { line: usize, message: String },
    #[error("cannot read the workbook: {0}")]
    Workbook(String),
    #[error("the file is not valid UTF-8 (first bad byte at {0}); send encoding=gbk if Excel saved it as GBK")]
    NotUtf8(usize),
}

/// Reads `bytes` as `format`; a CSV's encoding is detected when not given (a UTF-8 BOM or valid
/// UTF-8 means UTF-8, anything else is read as GBK).
pub fn read(bytes: &[u8], format: Format, encoding: Option<Encoding>) -> Result<Table, ReadError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ReadError::Empty);
    }
    match format {
        Format::Csv => read_csv(bytes, encoding),
        Format::Xlsx => read_xlsx(bytes),
        Format::JsonLines => read_jsonl(bytes, encoding),
    }
}

fn decode(bytes: &[u8], encoding: Option<Encoding>) -> Result<(String, Encoding), ReadError> {
    let bytes = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(bytes);
    let encoding = encoding.unwrap_or(if std::str::from_utf8(bytes).is_ok() { Encoding::Utf8 } else { Encoding::Gbk });
    match encoding {
        Encoding::Utf8 => match std::str::from_utf8(bytes) {
            Ok(text) => Ok((text.to_string(), encoding)),
            Err(e) => Err(ReadError::NotUtf8(e.valid_up_to())),
        },
        Encoding::Gbk => {
            let (text, _) = encoding_rs::GB18030.decode_without_bom_handling(bytes);
            Ok((text.into_owned(), encoding))
        }
    }
}

fn header(text: &str) -> String {
    text.trim().trim_start_matches('\u{feff}').trim().to_string()
}

fn read_csv(bytes: &[u8], encoding: Option<Encoding>) -> Result<Table, ReadError> {
    let (text, encoding) = decode(bytes, encoding)?;
    let mut reader = csv::ReaderBuilder::new().flexible(true).has_headers(false).from_reader(text.as_bytes());
    let mut records = reader.records();
    let headers: Vec<String> = match records.next() {
        Some(Ok(r)) => r.iter().map(header).collect(),
        Some(Err(e)) => return Err(csv_error(e)),
        None => return Err(ReadError::NoHeader),
    };
    if headers.iter().all(String::is_empty) {
        return Err(ReadError::NoHeader);
    }
    let mut rows = Vec::new();
    for (i, record) in records.enumerate() {
        let record = record.map_err(csv_error)?;
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let cells = headers
            .iter()
            .zip(record.iter())
            .filter(|(h, _)| !h.is_empty())
            .map(|(h, c)| (h.clone(), Value::String(c.to_string())))
            .collect();
        // The spreadsheet row, as Excel shows it (a quoted cell may span lines).
        rows.push(Row { number: i + 2, cells });
    }
    Ok(Table { format: Format::Csv, encoding: Some(encoding), headers, rows })
}

fn csv_error(e: csv::Error) -> ReadError {
    let line = e.position().map(|p| p.line() as usize).unwrap_or(0);
    ReadError::Line { line, message: e.to_string() }
}

/// The text of a spreadsheet cell: whole numbers without a decimal point, dates as YYYY-MM-DD.
fn cell_text(cell: &Data) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        Data::Int(n) => n.to_string(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(d) => excel_date(d.as_f64()).unwrap_or_else(|| d.as_f64().to_string()),
        Data::DateTimeIso(s) | Data::DurationIso(s) => s.chars().take(10).collect(),
        Data::Error(e) => format!("#{e:?}"),
    }
}

/// An Excel serial date (days since 1899-12-30) as YYYY-MM-DD.
fn excel_date(serial: f64) -> Option<String> {
    let epoch = chrono::NaiveDate::from_ymd_opt(1899, 12, 30)?;
    epoch.checked_add_signed(chrono::Duration::days(serial.floor() as i64)).map(|d| d.to_string())
}

fn read_xlsx(bytes: &[u8]) -> Result<Table, ReadError> {
    let mut workbook: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(bytes.to_vec()))
        .map_err(|e: calamine::XlsxError| ReadError::Workbook(e.to_string()))?;
    let first = workbook.sheet_names().first().cloned().ok_or_else(|| ReadError::Workbook("no sheet".into()))?;
    let range = workbook.worksheet_range(&first).map_err(|e| ReadError::Workbook(e.to_string()))?;
    // Rows count from the sheet's first cell, so numbers match what Excel shows.
    let first_row = range.start().map(|(r, _)| r as usize).unwrap_or(0);
    let mut rows_iter = range.rows();
    let headers: Vec<String> =
        rows_iter.next().ok_or(ReadError::NoHeader)?.iter().map(|c| header(&cell_text(c))).collect();
    if headers.iter().all(String::is_empty) {
        return Err(ReadError::NoHeader);
    }
    let mut rows = Vec::new();
    for (i, row) in rows_iter.enumerate() {
        let texts: Vec<String> = row.iter().map(cell_text).collect();
        if texts.iter().all(|t| t.trim().is_empty()) {
            continue;
        }
        let cells = headers
            .iter()
            .zip(texts)
            .filter(|(h, _)| !h.is_empty())
            .map(|(h, t)| (h.clone(), Value::String(t)))
            .collect();
        rows.push(Row { number: first_row + i + 2, cells });
    }
    Ok(Table { format: Format::Xlsx, encoding: None, headers, rows })
}

fn read_jsonl(bytes: &[u8], encoding: Option<Encoding>) -> Result<Table, ReadError> {
    let (text, _) = decode(bytes, encoding.or(Some(Encoding::Utf8)))?;
    let mut headers: Vec<String> = Vec::new();
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let value: Value = serde_json::from_str(line)
            .map_err(|e| ReadError::Line { line: i + 1, message: format!("not valid JSON: {e}") })?;
        let Value::Object(map) = value else {
            return Err(ReadError::Line { line: i + 1, message: "each line must be a JSON object".into() });
        };
        for key in map.keys() {
            if !headers.contains(key) {
                headers.push(key.clone());
            }
        }
        rows.push(Row { number: i + 1, cells: map.into_iter().collect() });
    }
    if rows.is_empty() {
        return Err(ReadError::Empty);
    }
    Ok(Table { format: Format::JsonLines, encoding: None, headers, rows })
}

/// One sheet to write: a name, a header row and rows of cells.
#[derive(Debug, Clone, PartialEq)]
pub struct Sheet {
    pub name: String,
    pub header: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

/// A cell to write: text, a whole number, or a decimal kept as text so nothing is rounded.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    Int(i64),
    Decimal(String),
}

impl Cell {
    pub fn text(&self) -> String {
        match self {
            Cell::Text(t) | Cell::Decimal(t) => t.clone(),
            Cell::Int(n) => n.to_string(),
        }
    }
}

/// One CSV line (RFC 4180): fields with a comma, quote or line break are quoted.
pub fn csv_line(fields: &[String]) -> String {
    let quoted: Vec<String> = fields
        .iter()
        .map(|f| if f.contains([',', '"', '\n', '\r']) { format!("\"{}\"", f.replace('"', "\"\"")) } else { f.clone() })
        .collect();
    format!("{}\r\n", quoted.join(","))
}

/// One sheet as CSV, UTF-8 with a byte-order mark so Excel shows the Chinese.
pub fn sheet_csv(sheet: &Sheet) -> Vec<u8> {
    let mut out = String::from("\u{feff}");
    out.push_str(&csv_line(&sheet.header));
    for row in &sheet.rows {
        out.push_str(&csv_line(&row.iter().map(Cell::text).collect::<Vec<_>>()));
    }
    out.into_bytes()
}

/// Sheets as an XLSX workbook: bold frozen headers; whole numbers as numbers, decimals (amounts)
/// as numbers where they are exact in a spreadsheet, text otherwise.
pub fn xlsx(sheets: &[Sheet]) -> Result<Vec<u8>, String> {
    let mut workbook = rust_xlsxwriter::Workbook::new();
    let bold = rust_xlsxwriter::Format::new().set_bold();
    for sheet in sheets {
        let ws = workbook.add_worksheet();
        ws.set_name(sheet.name.as_str()).map_err(|e| e.to_string())?;
        for (c, h) in sheet.header.iter().enumerate() {
            ws.write_string_with_format(0, c as u16, h.as_str(), &bold).map_err(|e| e.to_string())?;
            ws.set_column_width(c as u16, (h.chars().count() as f64 * 2.2).max(10.0)).map_err(|e| e.to_string())?;
        }
        ws.set_freeze_panes(1, 0).map_err(|e| e.to_string())?;
        for (r, row) in sheet.rows.iter().enumerate() {
            let r = r as u32 + 1;
            for (c, cell) in row.iter().enumerate() {
                let c = c as u16;
                match cell {
                    Cell::Int(n) => ws.write_number(r, c, *n as f64),
                    // Two-decimal amounts below 1e13 are exact as doubles to the cent.
                    Cell::Decimal(t) => match t.parse::<f64>() {
                        Ok(v) if !t.is_empty() => ws.write_number(r, c, v),
                        _ => ws.write_string(r, c, t.as_str()),
                    },
                    Cell::Text(t) => ws.write_string(r, c, t.as_str()),
                }
                .map_err(|e| e.to_string())?;
            }
        }
    }
    workbook.save_to_buffer().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(table: &Table) -> Vec<Vec<(String, String)>> {
        table
            .rows
            .iter()
            .map(|r| r.cells.iter().map(|(h, v)| (h.clone(), v.as_str().unwrap_or_default().to_string())).collect())
            .collect()
    }

    #[test]
    fn gbk_csv_from_excel_is_detected_and_decoded() {
        let text = "需求名称,关键词\r\n稠油降黏剂,\"稠油,降黏\"\r\n";
        let (gbk, _, _) = encoding_rs::GBK.encode(text);
        let table = read(&gbk, Format::sniff(&gbk), None).unwrap();
        assert_eq!(table.encoding, Some(Encoding::Gbk));
        assert_eq!(table.headers, ["需求名称", "关键词"]);
        assert_eq!(
            texts(&table),
            [vec![("需求名称".into(), "稠油降黏剂".into()), ("关键词".into(), "稠油,降黏".into())]]
        );
        assert_eq!(table.rows[0].number, 2, "the header is row 1");
        let bom = format!("\u{feff}{text}");
        assert_eq!(read(bom.as_bytes(), Format::Csv, None).unwrap().encoding, Some(Encoding::Utf8));
        assert_eq!(read(&gbk, Format::Csv, Some(Encoding::Utf8)).unwrap_err(), ReadError::NotUtf8(0));
    }

    #[test]
    fn an_xlsx_written_here_reads_back_with_row_numbers() {
        let sheet = Sheet {
            name: "成果".into(),
            header: vec!["成果名称".into(), "报价(万元)".into()],
            rows: vec![
                vec![Cell::Text("耐盐碱大豆新品种".into()), Cell::Decimal("120.50".into())],
                vec![Cell::Text("".into()), Cell::Text("".into())],
                vec![Cell::Text("页岩油压裂液".into()), Cell::Int(80)],
            ],
        };
        let bytes = xlsx(&[sheet]).unwrap();
        assert_eq!(Format::sniff(&bytes), Format::Xlsx);
        let table = read(&bytes, Format::Xlsx, None).unwrap();
        assert_eq!(table.headers, ["成果名称", "报价(万元)"]);
        let rows = texts(&table);
        assert_eq!(rows.len(), 2, "blank rows are skipped");
        assert_eq!(rows[0][1].1, "120.5");
        assert_eq!(rows[1][1].1, "80");
        assert_eq!(table.rows[1].number, 4);
    }

    #[test]
    fn json_lines_keep_their_values_and_say_which_line_is_broken() {
        let table = read(
            "{\"title\": \"盐碱地改良\", \"keywords\": [\"盐碱地\"]}\n\n{\"title\": \"x\"}\n".as_bytes(),
            Format::JsonLines,
            None,
        )
        .unwrap();
        assert_eq!(table.rows.len(), 2);
        assert_eq!(table.rows[1].number, 3);
        assert_eq!(table.rows[0].cells[0].1, serde_json::json!(["盐碱地"]));
        let err = read(b"{\"title\": 1}\n[1]\n", Format::JsonLines, None).unwrap_err();
        assert_eq!(err, ReadError::Line { line: 2, message: "each line must be a JSON object".into() });
        assert_eq!(read(b"  \n", Format::Csv, None).unwrap_err(), ReadError::Empty);
    }
}
