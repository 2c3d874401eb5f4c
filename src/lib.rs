//! cxoauth
