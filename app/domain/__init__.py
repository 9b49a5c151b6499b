"""Pure domain rules of SiteFlow: no Flask, no SQL, no clock reads (time is passed in)."""
