//! The admin page's scenarios (web/e2e/admin/): one test function each.

#[allow(unused_imports)]
use super::*;
