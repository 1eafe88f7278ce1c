// Package deploy holds Interlock's deployment artefacts, not code: the
// documented configuration (interlockd.yaml), the systemd unit (systemd/),
// the Kubernetes manifests (kubernetes/, kustomize) and the Grafana dashboard
// (grafana/). Its tests check them against the real configuration schema,
// the Kubernetes API types, the exported metrics and systemd itself.
package deploy
