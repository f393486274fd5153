pub mod db;
pub mod input;
