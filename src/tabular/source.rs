//! Where a file is read from: bytes in memory or a file on disk, read where it lies. A large
//! upload is spooled to disk rather than held (the service keeps at most a mebibyte of one), and
//! read from there as often as its import needs (every reading has a position of its own, so two
//! may overlap). Text is decoded as it is read: a GBK file is never held decoded whole.

use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;

use super::{Encoding, ReadError};

/// A file to import, owned: what the service received or the command line opened.
#[derive(Debug)]
pub enum Input {
    Bytes(Vec<u8>),
    File(std::fs::File),
}

impl Input {
    pub fn source(&self) -> Source<'_> {
        match self {
            Input::Bytes(bytes) => Source::Bytes(bytes),
            Input::File(file) => Source::File(file),
        }
    }
}

/// A file to read from its start, as often as needed.
#[derive(Debug, Clone, Copy)]
pub enum Source<'a> {
    Bytes(&'a [u8]),
    File(&'a std::fs::File),
}

impl<'a> Source<'a> {
    /// A reader from the file's first byte, with a position of its own.
    pub fn open(self) -> Opened<'a> {
        Opened { source: self, pos: 0 }
    }

    fn len(self) -> io::Result<u64> {
        match self {
            Source::Bytes(bytes) => Ok(bytes.len() as u64),
            Source::File(file) => Ok(file.metadata()?.len()),
        }
    }

    /// A buffered reader from the first byte after a UTF-8 byte-order mark, if the file has one.
    pub(super) fn after_bom(self) -> Result<BufReader<Opened<'a>>, ReadError> {
        let mut reader = BufReader::with_capacity(64 * 1024, self.open());
        let starts_with_bom = reader.fill_buf().map_err(io_error)?.starts_with(BOM);
        if starts_with_bom {
            reader.consume(BOM.len());
        }
        Ok(reader)
    }

    /// Whether the file holds nothing but ASCII white space (or nothing at all).
    pub(super) fn is_blank(self) -> Result<bool, ReadError> {
        let reader = BufReader::with_capacity(64 * 1024, self.open());
        Ok(first_not_blank(reader).map_err(io_error)?.is_none())
    }

    /// Whether the file begins as a ZIP container does, and its first byte that is not a
    /// byte-order mark or white space. A file that cannot be read has neither.
    pub(super) fn first_bytes(self) -> (bool, Option<u8>) {
        let mut head = [0u8; 4];
        let zip = self.open().read_exact(&mut head).is_ok() && &head == b"PK\x03\x04";
        let first = self.after_bom().ok().and_then(|reader| first_not_blank(reader).ok().flatten());
        (zip, first)
    }

    /// The encoding to read the text in: as given, or UTF-8 if the whole file is valid UTF-8 and
    /// GBK otherwise. A file given (or taken) as UTF-8 that is not is refused with the offset of
    /// its first bad byte after the byte-order mark, before any row is read.
    pub(super) fn encoding(self, given: Option<Encoding>) -> Result<Encoding, ReadError> {
        if given == Some(Encoding::Gbk) {
            return Ok(Encoding::Gbk);
        }
        match (given, first_bad_utf8(self.after_bom()?)?) {
            (_, None) => Ok(Encoding::Utf8),
            (Some(_), Some(offset)) => Err(ReadError::NotUtf8(offset)),
            (None, Some(_)) => Ok(Encoding::Gbk),
        }
    }

    /// The file's text in `encoding`, as UTF-8 bytes, from after its byte-order mark. Call
    /// `encoding` first: UTF-8 is passed on as it is.
    pub(super) fn text(self, encoding: Encoding) -> Result<Text<'a>, ReadError> {
        let reader = self.after_bom()?;
        Ok(match encoding {
            Encoding::Utf8 => Text::Utf8(reader),
            Encoding::Gbk => Text::Gbk(BufReader::with_capacity(64 * 1024, Decoding::new(reader))),
        })
    }
}

const BOM: &[u8] = "\u{feff}".as_bytes();

/// The first byte that is not ASCII white space, if any.
fn first_not_blank(mut reader: impl BufRead) -> io::Result<Option<u8>> {
    loop {
        let chunk = reader.fill_buf()?;
        if chunk.is_empty() {
            return Ok(None);
        }
        if let Some(b) = chunk.iter().find(|b| !b.is_ascii_whitespace()) {
            return Ok(Some(*b));
        }
        let n = chunk.len();
        reader.consume(n);
    }
}

pub(super) fn io_error(e: io::Error) -> ReadError {
    ReadError::Io(e.to_string())
}

/// A reader over a `Source` with a position of its own (a file is read with `pread`, so readers
/// of one file do not move each other).
#[derive(Debug)]
pub struct Opened<'a> {
    source: Source<'a>,
    pos: u64,
}

impl Read for Opened<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = match self.source {
            Source::Bytes(bytes) => {
                let start = (self.pos as usize).min(bytes.len());
                let n = buf.len().min(bytes.len() - start);
                buf[..n].copy_from_slice(&bytes[start..start + n]);
                n
            }
            Source::File(file) => file.read_at(buf, self.pos)?,
        };
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for Opened<'_> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let (base, offset) = match to {
            SeekFrom::Start(n) => {
                self.pos = n;
                return Ok(n);
            }
            SeekFrom::Current(d) => (self.pos, d),
            SeekFrom::End(d) => (self.source.len()?, d),
        };
        self.pos = base
            .checked_add_signed(offset)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before the start of the file"))?;
        Ok(self.pos)
    }
}

/// A file's text as UTF-8 bytes: passed on, or decoded from GBK as it is read.
pub(super) enum Text<'a> {
    Utf8(BufReader<Opened<'a>>),
    Gbk(BufReader<Decoding<BufReader<Opened<'a>>>>),
}

impl Read for Text<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Text::Utf8(r) => r.read(buf),
            Text::Gbk(r) => r.read(buf),
        }
    }
}

impl BufRead for Text<'_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        match self {
            Text::Utf8(r) => r.fill_buf(),
            Text::Gbk(r) => r.fill_buf(),
        }
    }

    fn consume(&mut self, n: usize) {
        match self {
            Text::Utf8(r) => r.consume(n),
            Text::Gbk(r) => r.consume(n),
        }
    }
}

/// Where the first byte that is not UTF-8 lies (an offset from the reader's start), if any.
fn first_bad_utf8(mut reader: impl Read) -> Result<Option<usize>, ReadError> {
    // A character cut by the end of a chunk is moved to the buffer's start and completed by the
    // next read (at most three bytes).
    let mut buf = vec![0u8; 64 * 1024 + 4];
    // Bytes of a cut character at the buffer's start; the offset of the buffer's first byte.
    let (mut kept, mut offset) = (0, 0);
    loop {
        let n = reader.read(&mut buf[kept..]).map_err(io_error)?;
        if n == 0 {
            return Ok(if kept == 0 { None } else { Some(offset) });
        }
        let filled = kept + n;
        match std::str::from_utf8(&buf[..filled]) {
            Ok(_) => (kept, offset) = (0, offset + filled),
            Err(e) if e.error_len().is_none() => {
                let valid = e.valid_up_to();
                buf.copy_within(valid..filled, 0);
                (kept, offset) = (filled - valid, offset + valid);
            }
            Err(e) => return Ok(Some(offset + e.valid_up_to())),
        }
    }
}

/// GB 18030 (a superset of GBK) decoded to UTF-8 as it is read.
pub(super) struct Decoding<R> {
    inner: R,
    decoder: encoding_rs::Decoder,
    input: Vec<u8>,
    input_at: usize,
    input_end: usize,
    input_done: bool,
    output: Vec<u8>,
    output_at: usize,
    output_end: usize,
    done: bool,
}

impl<R: Read> Decoding<R> {
    fn new(inner: R) -> Self {
        Decoding {
            inner,
            decoder: encoding_rs::GB18030.new_decoder_without_bom_handling(),
            input: vec![0; 32 * 1024],
            input_at: 0,
            input_end: 0,
            input_done: false,
            output: vec![0; 64 * 1024],
            output_at: 0,
            output_end: 0,
            done: false,
        }
    }

    /// Decodes the next piece into `output`.
    fn fill(&mut self) -> io::Result<()> {
        if self.input_at == self.input_end && !self.input_done {
            let n = self.inner.read(&mut self.input)?;
            (self.input_at, self.input_end, self.input_done) = (0, n, n == 0);
        }
        let (result, read, written, _) =
            self.decoder.decode_to_utf8(&self.input[self.input_at..self.input_end], &mut self.output, self.input_done);
        self.input_at += read;
        (self.output_at, self.output_end) = (0, written);
        if self.input_done && result == encoding_rs::CoderResult::InputEmpty {
            self.done = true;
        }
        Ok(())
    }
}

impl<R: Read> Read for Decoding<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.output_at == self.output_end {
            if self.done {
                return Ok(0);
            }
            self.fill()?;
        }
        let n = buf.len().min(self.output_end - self.output_at);
        buf[..n].copy_from_slice(&self.output[self.output_at..self.output_at + n]);
        self.output_at += n;
        Ok(n)
    }
}
