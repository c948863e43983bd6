//! A bounded reader over a byte slice, the one way parsers read bytes.
//!
//! Every read is fallible and advances a cursor; `sub` cuts a length-bounded
//! sub-reader for a nested structure, so a short or lying length field is an
//! error, never a panic or an out-of-bounds slice.

use crate::error::ParseError;

/// A cursor over `&[u8]` that never reads past its end.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Offset of `buf[0]` in the outermost input, for error messages.
    base: usize,
    what: &'static str,
}

impl<'a> Reader<'a> {
    /// A reader over `buf`; `what` names the structure in errors.
    pub fn new(buf: &'a [u8], what: &'static str) -> Self {
        Self {
            buf,
            pos: 0,
            base: 0,
            what,
        }
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Offset of the cursor in the outermost input.
    pub fn offset(&self) -> usize {
        self.base + self.pos
    }

    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// Read exactly `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], ParseError> {
        if n > self.remaining() {
            return Err(ParseError::Truncated {
                what: self.what,
                offset: self.offset(),
                needed: n,
                available: self.remaining(),
            });
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    /// Read a fixed-size array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], ParseError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub fn u8(&mut self) -> Result<u8, ParseError> {
        Ok(self.array::<1>()?[0])
    }

    pub fn u16_le(&mut self) -> Result<u16, ParseError> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    pub fn u32_le(&mut self) -> Result<u32, ParseError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    pub fn u64_le(&mut self) -> Result<u64, ParseError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    pub fn u16_be(&mut self) -> Result<u16, ParseError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    pub fn u32_be(&mut self) -> Result<u32, ParseError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    pub fn u64_be(&mut self) -> Result<u64, ParseError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    /// Cut a sub-reader over the next `n` bytes, naming the nested structure.
    pub fn sub(&mut self, n: usize, what: &'static str) -> Result<Reader<'a>, ParseError> {
        let base = self.offset();
        let buf = self.take(n)?;
        Ok(Reader {
            buf,
            pos: 0,
            base,
            what,
        })
    }

    /// Everything not yet read.
    pub fn rest(&mut self) -> &'a [u8] {
        let out = &self.buf[self.pos..];
        self.pos = self.buf.len();
        out
    }

    /// Fail unless every byte has been read.
    pub fn finish(&self) -> Result<(), ParseError> {
        if self.remaining() != 0 {
            return Err(ParseError::TrailingBytes {
                what: self.what,
                count: self.remaining(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_reads_are_errors() {
        let mut r = Reader::new(&[1, 2, 3], "test");
        assert_eq!(r.u16_le().unwrap(), 0x0201);
        let err = r.u32_le().unwrap_err();
        assert_eq!(
            err,
            ParseError::Truncated {
                what: "test",
                offset: 2,
                needed: 4,
                available: 1
            }
        );
    }

    #[test]
    fn sub_reader_is_bounded_and_keeps_offsets() {
        let data = [0u8, 1, 2, 3, 4, 5];
        let mut r = Reader::new(&data, "outer");
        r.take(1).unwrap();
        let mut s = r.sub(3, "inner").unwrap();
        assert_eq!(s.take(3).unwrap(), &[1, 2, 3]);
        match s.u8().unwrap_err() {
            ParseError::Truncated { what, offset, .. } => {
                assert_eq!(what, "inner");
                assert_eq!(offset, 4);
            }
            e => panic!("unexpected {e:?}"),
        }
        assert!(r.sub(10, "lying length").is_err());
        assert_eq!(r.remaining(), 2);
        assert!(r.finish().is_err());
    }
}
