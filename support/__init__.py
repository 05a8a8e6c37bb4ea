"""What the tests, the benchmarks and the tools share: starting a real server on a free loopback port and
stopping it (server.py), a headless browser (browser.py), and the mixed-traffic soak (soak.py). Neither
tests/ nor bench/ imports the other; both import this."""
