pub mod identity;
pub mod proto;
