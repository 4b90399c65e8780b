"""One function per API operation: plain data in and out, in the API's own member names."""
