//! The chat app's scenarios (web/e2e/app/): one test function each.

#[allow(unused_imports)]
use super::*;
