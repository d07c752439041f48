package config

import (
	"os"
	"testing"
)

// benchConfigs are the shipped config, and the same with a duo: and a
// radius: section of two servers: what the gate reads at every login.
func benchConfigs(b *testing.B) []struct{ name, yaml string } {
	shipped, err := os.ReadFile("../../etc/logingate.yaml")
	if err != nil {
		b.Fatal(err)
	}
	secret := writeFile(b, secureDir(b), "radius.secret", testRadiusSecret+"\n", 0o640)
	full := string(shipped) + duoYAML("https_timeout: 10s") + radiusYAML(secret) +
		"    - {address: \"[2001:db8::1]:1645\", secret_file: " + secret + ", timeout: 500ms, retries: 0}\n" +
		"  label: OTP\n  username: \"%u@example.org\"\n"
	return []struct{ name, yaml string }{{"shipped", string(shipped)}, {"duo+radius", full}}
}

func BenchmarkLoad(b *testing.B) {
	for _, c := range benchConfigs(b) {
		path := writeConfig(b, c.yaml)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Load(path, testHost); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkParse is Load without reading and checking the config file.
func BenchmarkParse(b *testing.B) {
	for _, c := range benchConfigs(b) {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := parse("logingate.yaml", testHost, []byte(c.yaml)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
