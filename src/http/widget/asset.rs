//! One file of the widget as it is sent: its body, gzip-compressed once
//! with Zopfli, and its ETag.

use bytes::Bytes;
use sha2::{Digest, Sha256};

use super::bundle::BundleError;

/// One file, ready to send.
pub struct Asset {
    pub body: Bytes,
    pub gzip: Bytes,
    /// Strong validator: a hash of `body`.
    pub etag: String,
    pub content_type: &'static str,
}

/// Files smaller than this are compressed without Zopfli's block splitting.
/// On the language packs and the loader (1–5 KiB) it took 10–40 times as
/// long (0.9 of the 1.1 s every start spent compressing, release build) and
/// gave the same size or a few bytes more; on the script (39 KiB) it saves
/// about 1 %.
const BLOCK_SPLITTING_FROM: usize = 16 * 1024;

fn gzip(body: &[u8]) -> std::io::Result<Vec<u8>> {
    let options = zopfli::Options {
        maximum_block_splits: if body.len() < BLOCK_SPLITTING_FROM {
            0
        } else {
            zopfli::Options::default().maximum_block_splits
        },
        ..zopfli::Options::default()
    };
    let mut gzip = Vec::new();
    zopfli::compress(options, zopfli::Format::Gzip, body, &mut gzip)?;
    Ok(gzip)
}

impl Asset {
    /// `body` with its gzip form (Zopfli) and its ETag.
    pub fn new(body: String, content_type: &'static str) -> Result<Asset, BundleError> {
        let gzip = gzip(body.as_bytes()).map_err(BundleError::Gzip)?;
        let etag = format!(
            "\"{}\"",
            &hex::encode(Sha256::digest(body.as_bytes()))[..16]
        );
        Ok(Asset {
            body: Bytes::from(body),
            gzip: Bytes::from(gzip),
            etag,
            content_type,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::widget::bundle;

    /// What [`BLOCK_SPLITTING_FROM`] claims: the small files lose nothing
    /// without block splitting.
    #[test]
    fn small_files_are_no_larger_without_block_splitting() {
        let bundle = bundle::get().expect("the widget bundle builds");
        let small = (bundle.langs.values())
            .chain(bundle.extra_langs.values())
            .chain([&bundle.loader, &bundle.extra])
            .filter(|asset| asset.body.len() < BLOCK_SPLITTING_FROM);
        let mut checked = 0;
        for asset in small {
            let mut split = Vec::new();
            zopfli::compress(
                zopfli::Options::default(),
                zopfli::Format::Gzip,
                &asset.body[..],
                &mut split,
            )
            .unwrap();
            assert!(
                asset.gzip.len() <= split.len(),
                "{} > {}",
                asset.gzip.len(),
                split.len()
            );
            checked += 1;
        }
        assert!(
            checked >= 10,
            "the packs, the loader and the extra script: {checked}"
        );
    }
}
