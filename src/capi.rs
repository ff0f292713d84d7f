//! The C ABI (to come).
