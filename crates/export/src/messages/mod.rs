pub mod typedstream;
