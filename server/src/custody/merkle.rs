//! The Merkle tree of RFC 6962 §2.1 / RFC 9162 §2.1, with no I/O: leaf and node hashes, the
//! root of a list of leaves, the compact range that appends in O(log n), and the inclusion
//! and consistency proofs (RFC 9162 §2.1.3.1 and §2.1.4.1).

use sha2::{Digest, Sha256};

/// A SHA-256 hash.
pub type Hash = [u8; 32];

/// `SHA-256(0x00 ‖ entry)`.
pub fn leaf_hash(entry: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(entry);
    h.finalize().into()
}

/// `SHA-256(0x01 ‖ left ‖ right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The hash of an empty tree: SHA-256 of the empty string.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The largest power of two strictly smaller than `n` (`n` ≥ 2).
fn split(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1u64 << (63 - (n - 1).leading_zeros())
}

/// MTH of the given leaf hashes (RFC 6962 §2.1).
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = split(n as u64) as usize;
            node_hash(&root(&leaves[..k]), &root(&leaves[k..]))
        }
    }
}

/// The roots of the perfect subtrees that make up a tree of `size` leaves, left to right
/// (one per bit of `size`, the largest first): what an append needs, O(log n).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CompactRange {
    pub size: u64,
    /// `(height, root)`; the subtree of height `h` holds `2^h` leaves.
    pub peaks: Vec<(u8, Hash)>,
}

impl CompactRange {
    /// Adds one leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        let mut node = (0u8, leaf);
        while let Some(&(h, left)) = self.peaks.last() {
            if h != node.0 {
                break;
            }
            self.peaks.pop();
            node = (h + 1, node_hash(&left, &node.1));
        }
        self.peaks.push(node);
        self.size += 1;
    }

    /// The tree's root (MTH): the peaks folded from the right.
    pub fn root(&self) -> Hash {
        let mut iter = self.peaks.iter().rev();
        let Some(&(_, mut acc)) = iter.next() else {
            return empty_root();
        };
        for (_, left) in iter {
            acc = node_hash(left, &acc);
        }
        acc
    }

    /// `size` (8 bytes, big-endian) then, per peak, its height (1 byte) and root (32).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + self.peaks.len() * 33);
        out.extend_from_slice(&self.size.to_be_bytes());
        for (h, hash) in &self.peaks {
            out.push(*h);
            out.extend_from_slice(hash);
        }
        out
    }

    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let size = u64::from_be_bytes(bytes.get(..8)?.try_into().ok()?);
        let rest = &bytes[8..];
        if rest.len() % 33 != 0 {
            return None;
        }
        let peaks = rest
            .chunks(33)
            .map(|c| (c[0], c[1..].try_into().expect("33-byte chunk")))
            .collect::<Vec<_>>();
        (peaks.len() as u32 == size.count_ones()).then_some(Self { size, peaks })
    }
}

/// The audit path of leaf `m` in the tree of `leaves` (RFC 9162 §2.1.3.1, PATH(m, D[n])).
/// `m < leaves.len()`.
pub fn inclusion_proof(m: usize, leaves: &[Hash]) -> Vec<Hash> {
    let n = leaves.len();
    if n <= 1 {
        return Vec::new();
    }
    let k = split(n as u64) as usize;
    if m < k {
        let mut path = inclusion_proof(m, &leaves[..k]);
        path.push(root(&leaves[k..]));
        path
    } else {
        let mut path = inclusion_proof(m - k, &leaves[k..]);
        path.push(root(&leaves[..k]));
        path
    }
}

/// The consistency proof between the first `m` leaves and all of `leaves` (RFC 9162
/// §2.1.4.1, PROOF(m, D[n])). `0 < m ≤ leaves.len()`.
pub fn consistency_proof(m: usize, leaves: &[Hash]) -> Vec<Hash> {
    fn subproof(m: usize, leaves: &[Hash], complete: bool) -> Vec<Hash> {
        let n = leaves.len();
        if m == n {
            return if complete {
                Vec::new()
            } else {
                vec![root(leaves)]
            };
        }
        let k = split(n as u64) as usize;
        if m <= k {
            let mut proof = subproof(m, &leaves[..k], complete);
            proof.push(root(&leaves[k..]));
            proof
        } else {
            let mut proof = subproof(m - k, &leaves[k..], false);
            proof.push(root(&leaves[..k]));
            proof
        }
    }
    if m == 0 || m > leaves.len() {
        return Vec::new();
    }
    subproof(m, leaves, true)
}

/// Verifies a consistency proof (RFC 9162 §2.1.4.2): the tree of `first` leaves with root
/// `first_root` is a prefix of the tree of `second` leaves with root `second_root`.
pub fn verify_consistency(
    first: u64,
    second: u64,
    first_root: &Hash,
    second_root: &Hash,
    proof: &[Hash],
) -> bool {
    if first == second {
        return proof.is_empty() && first_root == second_root;
    }
    if first == 0 || first > second || proof.is_empty() {
        return false;
    }
    let mut path = Vec::with_capacity(proof.len() + 1);
    if first.is_power_of_two() {
        path.push(*first_root);
    }
    path.extend_from_slice(proof);
    let (mut f, mut s) = (first - 1, second - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (path[0], path[0]);
    for c in &path[1..] {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    s == 0 && &fr == first_root && &sr == second_root
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(h: &Hash) -> String {
        h.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The leaves of the RFC 6962 test vectors (Certificate Transparency's
    /// `merkle_tree_test`), and the roots of their first 1..=8.
    const INPUTS: [&[u8]; 8] = [
        b"",
        b"\x00",
        b"\x10",
        b"\x20\x21",
        b"\x30\x31",
        b"\x40\x41\x42\x43",
        b"\x50\x51\x52\x53\x54\x55\x56\x57",
        b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
    ];
    const ROOTS: [&str; 8] = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    fn leaves() -> Vec<Hash> {
        INPUTS.iter().map(|i| leaf_hash(i)).collect()
    }

    #[test]
    fn the_empty_tree_hashes_to_sha256_of_nothing() {
        assert_eq!(
            hex(&root(&[])),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn roots_match_the_rfc_6962_test_vectors() {
        let leaves = leaves();
        for (n, expected) in ROOTS.iter().enumerate() {
            assert_eq!(hex(&root(&leaves[..=n])), *expected, "size {}", n + 1);
        }
    }

    #[test]
    fn the_compact_range_gives_the_same_roots_and_survives_encoding() {
        let leaves = leaves();
        let mut range = CompactRange::default();
        for (n, leaf) in leaves.iter().enumerate() {
            range.push(*leaf);
            assert_eq!(range.root(), root(&leaves[..=n]));
            assert_eq!(CompactRange::decode(&range.encode()), Some(range.clone()));
        }
    }

    #[test]
    fn proofs_match_the_hand_computed_shapes() {
        // RFC 9162 §2.1.5's example, seven leaves a..g: PATH(3) = [c, g(a,b), h(e,f,g)].
        let l = leaves();
        let proof = inclusion_proof(3, &l[..7]);
        assert_eq!(proof, vec![l[2], node_hash(&l[0], &l[1]), root(&l[4..7])]);
        // PROOF(3, D[7]) = [c, d, g(a,b), h(e,f,g)]; PROOF(4, D[7]) = [l(e,f,g)]... as in the RFC.
        assert_eq!(
            consistency_proof(3, &l[..7]),
            vec![l[2], l[3], node_hash(&l[0], &l[1]), root(&l[4..7])]
        );
        assert_eq!(consistency_proof(4, &l[..7]), vec![root(&l[4..7])]);
        assert_eq!(
            consistency_proof(6, &l[..7]),
            vec![node_hash(&l[4], &l[5]), l[6], root(&l[..4])]
        );
        assert!(consistency_proof(7, &l[..7]).is_empty());
    }
}
