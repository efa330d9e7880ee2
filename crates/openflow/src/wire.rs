//! Bounds-checked big-endian reading and writing. Every read of a
//! message goes through [`Reader`], so a short or lying message is an
//! error, never a panic.

use crate::DecodeError;

pub struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, at: 0 }
    }

    pub fn remaining(&self) -> usize {
        self.buf.len() - self.at
    }

    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    pub fn bytes(&mut self, n: usize, on_short: DecodeError) -> Result<&'a [u8], DecodeError> {
        if self.remaining() < n {
            return Err(on_short);
        }
        let s = &self.buf[self.at..self.at + n];
        self.at += n;
        Ok(s)
    }

    pub fn rest(&mut self) -> &'a [u8] {
        let s = &self.buf[self.at..];
        self.at = self.buf.len();
        s
    }

    pub fn u8(&mut self, e: DecodeError) -> Result<u8, DecodeError> {
        Ok(self.bytes(1, e)?[0])
    }

    pub fn u16(&mut self, e: DecodeError) -> Result<u16, DecodeError> {
        let b = self.bytes(2, e)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    pub fn u32(&mut self, e: DecodeError) -> Result<u32, DecodeError> {
        let b = self.bytes(4, e)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn u64(&mut self, e: DecodeError) -> Result<u64, DecodeError> {
        let b = self.bytes(8, e)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }

    pub fn skip(&mut self, n: usize, e: DecodeError) -> Result<(), DecodeError> {
        self.bytes(n, e).map(|_| ())
    }

    /// A sub-reader over the next `n` bytes.
    pub fn sub(&mut self, n: usize, e: DecodeError) -> Result<Reader<'a>, DecodeError> {
        Ok(Reader::new(self.bytes(n, e)?))
    }
}

pub trait Put {
    fn u8(&mut self, v: u8);
    fn u16(&mut self, v: u16);
    fn u32(&mut self, v: u32);
    fn u64(&mut self, v: u64);
    fn zeros(&mut self, n: usize);
    /// Zeros until the length from `start` is a multiple of 8.
    fn pad8(&mut self, start: usize);
    /// Writes `v` at `at` (a length field filled in afterwards).
    fn set_u16(&mut self, at: usize, v: u16);
}

impl Put for Vec<u8> {
    fn u8(&mut self, v: u8) {
        self.push(v);
    }
    fn u16(&mut self, v: u16) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn zeros(&mut self, n: usize) {
        self.resize(self.len() + n, 0);
    }
    fn pad8(&mut self, start: usize) {
        let len = self.len() - start;
        self.zeros((8 - len % 8) % 8);
    }
    fn set_u16(&mut self, at: usize, v: u16) {
        self[at..at + 2].copy_from_slice(&v.to_be_bytes());
    }
}

/// Rounds up to a multiple of 8.
pub fn pad8(n: usize) -> usize {
    n.div_ceil(8) * 8
}
