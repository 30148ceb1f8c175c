//! The output encodings. Each turns one tensor into the bytes a job returns, and back into values
//! the ladder can compare.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::ladder::Tolerance;

/// How the pipeline's output tensor becomes the job's output bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// `[1, C, H, W]` or `[C, H, W]` floats in `[-1, 1]`, C = 1 or 3 → 8-bit PNG.
    Png,
    /// `[1, N]` or `[N]` floats in `[-1, 1]` → 16-bit PCM mono WAV.
    Wav,
    /// `[1, N]` or `[N]` token ids → UTF-8 through the output's `vocab` (bytes without one).
    Utf8,
    /// Any float tensor → a NumPy `.npy` file (little-endian f32).
    Npy,
}

impl Encoding {
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Png => "png",
            Encoding::Wav => "wav",
            Encoding::Utf8 => "utf8",
            Encoding::Npy => "npy",
        }
    }
}

/// The manifest's `pipeline.output`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OutputSpec {
    /// The named tensor that is the output.
    pub from: String,
    pub encode: Encoding,
    /// The tensor's shape, checked on every result (`[1, 3, 64, 64]` for a 64×64 RGB image).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shape: Option<Vec<usize>>,
    /// WAV only (default 16 000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_rate: Option<u32>,
    /// UTF-8 only: the character of each token id (without one, ids are bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vocab: Option<String>,
    /// Overrides the ladder's default thresholds for this output kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerance: Option<Tolerance>,
}

#[derive(Debug, Error, PartialEq)]
pub enum OutputError {
    #[error("output is not a valid {kind}: {reason}")]
    Malformed { kind: &'static str, reason: String },
    #[error("output tensor has shape {got:?}; the workflow declares {want:?}")]
    Shape { got: Vec<usize>, want: Vec<usize> },
    #[error("output tensor of shape {0:?} cannot be encoded as {1}")]
    Unencodable(Vec<usize>, &'static str),
    #[error("token id {0} is outside the vocabulary")]
    Token(i64),
    #[error("output contains NaN or infinity")]
    NotFinite,
}

/// Decoded output values.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    /// Image pixels, row-major `H × W × C`.
    U8(Vec<u8>),
    /// PCM samples.
    I16(Vec<i16>),
    F32(Vec<f32>),
    Text(String),
}

/// An output as the ladder sees it: its encoding, its tensor shape and its values.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    pub encoding: Encoding,
    /// In the pipeline's terms: `[1, C, H, W]` for images, `[1, N]` for audio and text.
    pub shape: Vec<usize>,
    pub values: Values,
}

impl Decoded {
    /// The values as f64, for the numeric rungs (text has none).
    pub fn numbers(&self) -> Option<Vec<f64>> {
        match &self.values {
            Values::U8(v) => Some(v.iter().map(|x| *x as f64).collect()),
            Values::I16(v) => Some(v.iter().map(|x| *x as f64).collect()),
            Values::F32(v) => Some(v.iter().map(|x| *x as f64).collect()),
            Values::Text(_) => None,
        }
    }
}

fn malformed(kind: &'static str, reason: impl ToString) -> OutputError {
    OutputError::Malformed {
        kind,
        reason: reason.to_string(),
    }
}

/// Image `[1, C, H, W]` or `[C, H, W]` → (C, H, W).
fn image_dims(shape: &[usize]) -> Result<(usize, usize, usize), OutputError> {
    match shape {
        [1, c, h, w] | [c, h, w] if (*c == 1 || *c == 3) && *h > 0 && *w > 0 => Ok((*c, *h, *w)),
        _ => Err(OutputError::Unencodable(shape.to_vec(), "png")),
    }
}

/// The length of a flat `[1, N]` or `[N]` tensor (audio, text).
pub fn flat_len(shape: &[usize], kind: &'static str) -> Result<usize, OutputError> {
    match shape {
        [1, n] | [n] => Ok(*n),
        _ => Err(OutputError::Unencodable(shape.to_vec(), kind)),
    }
}

/// Pixels `C × H × W` (the tensor's order), already quantized to 0..=255, → PNG.
pub fn png(shape: &[usize], chw: &[u8]) -> Result<Vec<u8>, OutputError> {
    let (c, h, w) = image_dims(shape)?;
    if chw.len() != c * h * w {
        return Err(OutputError::Unencodable(shape.to_vec(), "png"));
    }
    let mut hwc = vec![0u8; chw.len()];
    for ch in 0..c {
        for i in 0..h * w {
            hwc[i * c + ch] = chw[ch * h * w + i];
        }
    }
    let mut out = Vec::new();
    let mut enc = ::png::Encoder::new(&mut out, w as u32, h as u32);
    enc.set_color(if c == 3 {
        ::png::ColorType::Rgb
    } else {
        ::png::ColorType::Grayscale
    });
    enc.set_depth(::png::BitDepth::Eight);
    // Outputs are small and made per job: fast compression keeps encoding well under a millisecond.
    enc.set_compression(::png::Compression::Fast);
    let mut writer = enc
        .write_header()
        .map_err(|e| malformed("png", e.to_string()))?;
    writer
        .write_image_data(&hwc)
        .map_err(|e| malformed("png", e.to_string()))?;
    writer
        .finish()
        .map_err(|e| malformed("png", e.to_string()))?;
    Ok(out)
}

/// PCM samples → a 16-bit mono WAV.
pub fn wav(sample_rate: u32, samples: &[i16]) -> Vec<u8> {
    let data_len = (samples.len() * 2) as u32;
    let mut out = Vec::with_capacity(44 + samples.len() * 2);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&sample_rate.to_le_bytes());
    out.extend_from_slice(&(sample_rate * 2).to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        out.extend_from_slice(&s.to_le_bytes());
    }
    out
}

/// Token ids → text.
pub fn utf8(vocab: Option<&str>, ids: &[i64]) -> Result<Vec<u8>, OutputError> {
    match vocab {
        Some(v) => {
            let chars: Vec<char> = v.chars().collect();
            let mut s = String::new();
            for id in ids {
                let c = usize::try_from(*id)
                    .ok()
                    .and_then(|i| chars.get(i))
                    .ok_or(OutputError::Token(*id))?;
                s.push(*c);
            }
            Ok(s.into_bytes())
        }
        None => {
            let bytes: Vec<u8> = ids
                .iter()
                .map(|id| u8::try_from(*id).map_err(|_| OutputError::Token(*id)))
                .collect::<Result<_, _>>()?;
            String::from_utf8(bytes)
                .map(String::into_bytes)
                .map_err(|e| malformed("utf8", e))
        }
    }
}

/// A float tensor → `.npy` (format 1.0, little-endian f32, C order).
pub fn npy(shape: &[usize], data: &[f32]) -> Result<Vec<u8>, OutputError> {
    if shape.iter().product::<usize>() != data.len() {
        return Err(OutputError::Unencodable(shape.to_vec(), "npy"));
    }
    if data.iter().any(|x| !x.is_finite()) {
        return Err(OutputError::NotFinite);
    }
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let tuple = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {tuple}, }}");
    // Magic (6) + version (2) + length (2) + header + '\n', padded to a multiple of 64.
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + data.len() * 4);
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for x in data {
        out.extend_from_slice(&x.to_le_bytes());
    }
    Ok(out)
}

/// Decodes a job's output bytes as `spec` says they are encoded.
pub fn decode(spec: &OutputSpec, bytes: &[u8]) -> Result<Decoded, OutputError> {
    match spec.encode {
        Encoding::Png => decode_png(bytes),
        Encoding::Wav => decode_wav(bytes),
        Encoding::Utf8 => {
            let text = std::str::from_utf8(bytes).map_err(|e| malformed("utf8", e))?;
            let n = text.chars().count();
            if let Some(vocab) = &spec.vocab {
                if let Some(c) = text.chars().find(|c| !vocab.contains(*c)) {
                    return Err(malformed("utf8", format!("{c:?} is not in the vocabulary")));
                }
            }
            Ok(Decoded {
                encoding: Encoding::Utf8,
                shape: vec![1, if spec.vocab.is_some() { n } else { bytes.len() }],
                values: Values::Text(text.to_string()),
            })
        }
        Encoding::Npy => decode_npy(bytes),
    }
}

fn decode_png(bytes: &[u8]) -> Result<Decoded, OutputError> {
    let mut reader = ::png::Decoder::new(bytes)
        .read_info()
        .map_err(|e| malformed("png", e))?;
    let (color, depth) = reader.output_color_type();
    let c = match (color, depth) {
        (::png::ColorType::Rgb, ::png::BitDepth::Eight) => 3,
        (::png::ColorType::Grayscale, ::png::BitDepth::Eight) => 1,
        other => {
            return Err(malformed(
                "png",
                format!("{other:?}: outputs are 8-bit RGB or grayscale"),
            ))
        }
    };
    let info = reader.info();
    let (w, h) = (info.width as usize, info.height as usize);
    // Refuse absurd sizes before allocating (the manifest's byte limit bounds the file, not
    // the pixels it claims).
    if w * h > 1 << 26 {
        return Err(malformed("png", format!("{w}×{h} is too large")));
    }
    let mut buf = vec![0; reader.output_buffer_size()];
    let frame = reader
        .next_frame(&mut buf)
        .map_err(|e| malformed("png", e))?;
    buf.truncate(frame.buffer_size());
    Ok(Decoded {
        encoding: Encoding::Png,
        shape: vec![1, c, h, w],
        values: Values::U8(buf),
    })
}

fn decode_wav(bytes: &[u8]) -> Result<Decoded, OutputError> {
    let bad = |why: &str| malformed("wav", why);
    if bytes.len() < 44 || &bytes[0..4] != b"RIFF" || &bytes[8..16] != b"WAVEfmt " {
        return Err(bad("no RIFF/WAVE header"));
    }
    let u16_at = |i: usize| u16::from_le_bytes([bytes[i], bytes[i + 1]]);
    let u32_at =
        |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    if u16_at(20) != 1 || u16_at(22) != 1 || u16_at(34) != 16 {
        return Err(bad("outputs are 16-bit PCM mono"));
    }
    if &bytes[36..40] != b"data" || u32_at(40) as usize != bytes.len() - 44 {
        return Err(bad("data chunk length does not match the file"));
    }
    let samples: Vec<i16> = bytes[44..]
        .chunks_exact(2)
        .map(|c| i16::from_le_bytes([c[0], c[1]]))
        .collect();
    Ok(Decoded {
        encoding: Encoding::Wav,
        shape: vec![1, samples.len()],
        values: Values::I16(samples),
    })
}

fn decode_npy(bytes: &[u8]) -> Result<Decoded, OutputError> {
    let bad = |why: &str| malformed("npy", why);
    if bytes.len() < 10 || &bytes[..8] != b"\x93NUMPY\x01\x00" {
        return Err(bad("no NPY 1.0 header"));
    }
    let hlen = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let header = bytes
        .get(10..10 + hlen)
        .and_then(|h| std::str::from_utf8(h).ok())
        .ok_or_else(|| bad("truncated header"))?;
    if !header.contains("'descr': '<f4'") || !header.contains("'fortran_order': False") {
        return Err(bad("outputs are little-endian f32 in C order"));
    }
    let dims = header
        .split("'shape': (")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .ok_or_else(|| bad("no shape"))?;
    let shape: Vec<usize> = dims
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().map_err(|_| bad("shape is not numbers")))
        .collect::<Result<_, _>>()?;
    let data = &bytes[10 + hlen..];
    if data.len() != shape.iter().product::<usize>() * 4 {
        return Err(bad("data length does not match the shape"));
    }
    let values: Vec<f32> = data
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    Ok(Decoded {
        encoding: Encoding::Npy,
        shape,
        values: Values::F32(values),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(encode: Encoding) -> OutputSpec {
        OutputSpec {
            from: "x".into(),
            encode,
            shape: None,
            sample_rate: None,
            vocab: None,
            tolerance: None,
        }
    }

    #[test]
    fn png_round_trips_channel_order() {
        // 2×2 RGB: channel planes in, pixels out.
        let chw: Vec<u8> = (0..12).collect();
        let bytes = png(&[1, 3, 2, 2], &chw).unwrap();
        assert_eq!(&bytes[1..4], b"PNG");
        let d = decode(&spec(Encoding::Png), &bytes).unwrap();
        assert_eq!(d.shape, vec![1, 3, 2, 2]);
        assert_eq!(
            d.values,
            Values::U8(vec![0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11])
        );
        assert!(png(&[1, 2, 2, 2], &[0; 8]).is_err());
        assert!(png(&[1, 3, 2, 2], &[0; 11]).is_err());
    }

    #[test]
    fn wav_round_trips_and_rejects_lies() {
        let samples = vec![0i16, 1, -1, i16::MAX, i16::MIN];
        let bytes = wav(16_000, &samples);
        assert_eq!(bytes.len(), 44 + 10);
        let d = decode(&spec(Encoding::Wav), &bytes).unwrap();
        assert_eq!(d.values, Values::I16(samples));
        assert_eq!(d.shape, vec![1, 5]);
        assert!(decode(&spec(Encoding::Wav), &bytes[..50]).is_err());
        let mut stereo = bytes.clone();
        stereo[22] = 2;
        assert!(decode(&spec(Encoding::Wav), &stereo).is_err());
    }

    #[test]
    fn npy_matches_numpy_layout() {
        let bytes = npy(&[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
        assert_eq!(
            (10 + u16::from_le_bytes([bytes[8], bytes[9]]) as usize) % 64,
            0
        );
        let d = decode(&spec(Encoding::Npy), &bytes).unwrap();
        assert_eq!(d.shape, vec![2, 3]);
        assert_eq!(d.values, Values::F32(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]));
        assert_eq!(npy(&[1], &[f32::NAN]), Err(OutputError::NotFinite));
        assert!(npy(&[2], &[1.0]).is_err());
        assert!(decode(&spec(Encoding::Npy), &bytes[..bytes.len() - 1]).is_err());
    }

    #[test]
    fn utf8_through_a_vocabulary() {
        assert_eq!(utf8(Some("ab "), &[0, 2, 1]).unwrap(), b"a b");
        assert_eq!(utf8(Some("ab"), &[2]), Err(OutputError::Token(2)));
        assert_eq!(utf8(None, &[104, 105]).unwrap(), b"hi");
        assert!(utf8(None, &[0xff]).is_err());
        let mut s = spec(Encoding::Utf8);
        s.vocab = Some("ab ".into());
        assert_eq!(decode(&s, b"a b").unwrap().shape, vec![1, 3]);
        assert!(decode(&s, b"abc").is_err());
    }
}
