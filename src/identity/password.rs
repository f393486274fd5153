//! bcrypt password hashing. Hashing is deliberately slow: async callers run it
//! on a blocking thread.

pub fn hash(password: &str) -> Result<String, bcrypt::BcryptError> {
    bcrypt::hash(password, bcrypt::DEFAULT_COST)
}

/// False for a wrong password and for a malformed stored hash alike.
pub fn verify(password: &str, hash: &str) -> bool {
    bcrypt::verify(password, hash).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    #[test]
    fn hashes_verify() {
        let hash = bcrypt::hash("Correct horse 9", 4).unwrap();
        assert!(super::verify("Correct horse 9", &hash));
        assert!(!super::verify("wrong", &hash));
        assert!(!super::verify("x", "not a hash"));
    }
}
