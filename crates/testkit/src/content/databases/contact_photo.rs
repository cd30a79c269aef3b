//! Contact photos: real baseline JPEGs (JFIF, YCbCr, no subsampling) that any decoder opens,
//! a few hundred bytes each. The picture is a grid of 8×8 squares in shades of one colour
//! chosen by the seed, so every contact's photo differs.
//!
//! Each square is one DCT block holding only its DC coefficient: with every quantisation step
//! 8, a block of sample value `v` has the quantised DC `v - 128`, coded as its difference from
//! the previous block of the same component (ITU T.81 F.1.2.1). The Huffman tables are the
//! smallest that code this: DC categories 0–11 as 4-bit codes, and an AC table holding only
//! end-of-block (`0`).

use rand::RngExt;

use crate::content::Seeds;

/// A `side`×`side` JPEG (`side` a multiple of 8, at most 65,528).
pub(crate) fn jpeg(side: u16, seeds: Seeds) -> Vec<u8> {
    assert!(
        side.is_multiple_of(8) && side > 0,
        "a whole number of 8×8 blocks"
    );
    let mut rng = seeds.rng();
    let base: [f64; 3] = [
        rng.random_range(40.0..215.0),
        rng.random_range(40.0..215.0),
        rng.random_range(40.0..215.0),
    ];
    let blocks = usize::from(side / 8);
    let mut out = Vec::with_capacity(200 + blocks * blocks * 3);
    out.extend_from_slice(&[0xFF, 0xD8]);
    // APP0 JFIF 1.1, no density, no thumbnail.
    segment(
        &mut out,
        0xE0,
        b"JFIF\0\x01\x01\x00\x00\x01\x00\x01\x00\x00",
    );
    let mut dqt = vec![0x00];
    dqt.extend_from_slice(&[8; 64]);
    segment(&mut out, 0xDB, &dqt);
    let (hi, lo) = ((side >> 8) as u8, side as u8);
    segment(
        &mut out,
        0xC0,
        &[8, hi, lo, hi, lo, 3, 1, 0x11, 0, 2, 0x11, 0, 3, 0x11, 0],
    );
    let mut dht = vec![0x00, 0, 0, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    dht.extend(0..12u8);
    dht.extend_from_slice(&[0x10, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x00]);
    segment(&mut out, 0xC4, &dht);
    segment(&mut out, 0xDA, &[3, 1, 0x00, 2, 0x00, 3, 0x00, 0, 63, 0]);
    let mut bits = Bits::new(&mut out);
    let mut previous = [0i32; 3];
    for _ in 0..blocks * blocks {
        let shade: f64 = rng.random_range(0.7..1.3);
        let rgb = base.map(|c| (c * shade).clamp(0.0, 255.0));
        for (c, value) in ycbcr(rgb).into_iter().enumerate() {
            let dc = i32::from(value) - 128;
            bits.dc(dc - previous[c]);
            previous[c] = dc;
            bits.put(0, 1);
        }
    }
    bits.finish();
    out.extend_from_slice(&[0xFF, 0xD9]);
    out
}

/// A marker segment: `FF marker`, its big-endian length (itself included), its bytes.
fn segment(out: &mut Vec<u8>, marker: u8, body: &[u8]) {
    let len = u16::try_from(body.len() + 2).expect("a short segment");
    // JPEG's integers are big-endian (T.81 B.1.1.4).
    out.extend_from_slice(&[0xFF, marker, (len >> 8) as u8, len as u8]);
    out.extend_from_slice(body);
}

/// JFIF's RGB → YCbCr (ITU-R BT.601, full range).
fn ycbcr([r, g, b]: [f64; 3]) -> [u8; 3] {
    let y = 0.299 * r + 0.587 * g + 0.114 * b;
    let cb = 128.0 - 0.168_736 * r - 0.331_264 * g + 0.5 * b;
    let cr = 128.0 + 0.5 * r - 0.418_688 * g - 0.081_312 * b;
    [y, cb, cr].map(|v| v.round().clamp(0.0, 255.0) as u8)
}

/// Entropy-coded bits, most significant first, with a `00` stuffed after every `FF` byte.
struct Bits<'a> {
    out: &'a mut Vec<u8>,
    acc: u32,
    n: u32,
}

impl<'a> Bits<'a> {
    fn new(out: &'a mut Vec<u8>) -> Self {
        Self { out, acc: 0, n: 0 }
    }

    fn put(&mut self, value: u32, len: u32) {
        for i in (0..len).rev() {
            self.acc = (self.acc << 1) | ((value >> i) & 1);
            self.n += 1;
            if self.n == 8 {
                let byte = self.acc as u8;
                self.out.push(byte);
                if byte == 0xFF {
                    self.out.push(0);
                }
                self.acc = 0;
                self.n = 0;
            }
        }
    }

    /// A DC difference: its category as a 4-bit code, then its bits (negative values as
    /// `diff - 1` in that many bits).
    fn dc(&mut self, diff: i32) {
        let category = 32 - diff.unsigned_abs().leading_zeros();
        self.put(category, 4);
        if category > 0 {
            let bits = if diff < 0 { diff - 1 } else { diff };
            self.put(bits as u32 & ((1 << category) - 1), category);
        }
    }

    /// Pads the last byte with one bits.
    fn finish(mut self) {
        if self.n > 0 {
            let pad = 8 - self.n;
            self.put((1 << pad) - 1, pad);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_valid_looking_jpeg_per_seed() {
        let a = jpeg(32, Seeds::new(1));
        let b = jpeg(32, Seeds::new(2));
        assert_ne!(a, b);
        assert_eq!(a, jpeg(32, Seeds::new(1)));
        assert!(a.starts_with(&[0xFF, 0xD8, 0xFF, 0xE0]) && a.ends_with(&[0xFF, 0xD9]));
        assert!(a.len() < 400, "{} bytes", a.len());
        // The entropy-coded data has no marker in it: every FF is followed by 00.
        let sos = a.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
        let data = &a[sos + 14..a.len() - 2];
        for (i, w) in data.windows(2).enumerate() {
            assert!(w[0] != 0xFF || w[1] == 0, "a marker at {i}");
        }
    }
}
