package deploy

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/interlock-dev/interlock/daemon/config"
	"github.com/interlock-dev/interlock/policy"
)

const (
	k8sNamespace = "interlock-system"
	k8sConfigKey = "interlockd.yaml"
	k8sContainer = "interlockd"
)

// kustomizations are the buildable directories under kubernetes/.
var kustomizations = []string{"kubernetes/base", "kubernetes/overlays/example"}

// manifests is one kustomize build, strictly decoded into the API types.
type manifests struct {
	dir             string
	namespaces      []*corev1.Namespace
	serviceAccounts []*corev1.ServiceAccount
	configMaps      []*corev1.ConfigMap
	services        []*corev1.Service
	daemonSets      []*appsv1.DaemonSet
	serviceMonitors []*monitoringv1.ServiceMonitor
}

// buildManifests runs kustomize (as `kubectl kustomize dir` does) and
// decodes every object strictly: an unknown or misspelt field fails, and
// so does any kind not listed here (a PodDisruptionBudget among them: a
// node agent must never block a drain).
func buildManifests(tb testing.TB, dir string) *manifests {
	tb.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	rm, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		tb.Fatalf("kustomize build %s: %v", dir, err)
	}
	m := &manifests{dir: dir}
	for _, r := range rm.Resources() {
		b, err := r.AsYAML()
		if err != nil {
			tb.Fatalf("%s: %s/%s: %v", dir, r.GetKind(), r.GetName(), err)
		}
		where := fmt.Sprintf("%s: %s %s/%s", dir, r.GetKind(), r.GetNamespace(), r.GetName())
		switch r.GetKind() {
		case "Namespace":
			m.namespaces = append(m.namespaces, strictDecode[corev1.Namespace](tb, where, b))
		case "ServiceAccount":
			m.serviceAccounts = append(m.serviceAccounts, strictDecode[corev1.ServiceAccount](tb, where, b))
		case "ConfigMap":
			m.configMaps = append(m.configMaps, strictDecode[corev1.ConfigMap](tb, where, b))
		case "Service":
			m.services = append(m.services, strictDecode[corev1.Service](tb, where, b))
		case "DaemonSet":
			m.daemonSets = append(m.daemonSets, strictDecode[appsv1.DaemonSet](tb, where, b))
		case "ServiceMonitor":
			m.serviceMonitors = append(m.serviceMonitors, strictDecode[monitoringv1.ServiceMonitor](tb, where, b))
		default:
			tb.Errorf("%s: unexpected kind %s (add it to buildManifests with its checks; never a PodDisruptionBudget)", where, r.GetKind())
		}
	}
	return m
}

func strictDecode[T any](tb testing.TB, where string, b []byte) *T {
	tb.Helper()
	var v T
	if err := yaml.UnmarshalStrict(b, &v); err != nil {
		tb.Fatalf("%s does not decode strictly: %v", where, err)
	}
	return &v
}

// agent returns the one DaemonSet, its interlockd container and the
// configuration in the ConfigMap it mounts, validated by config.Parse.
func (m *manifests) agent(tb testing.TB) (*appsv1.DaemonSet, *corev1.Container, *config.Config) {
	tb.Helper()
	if len(m.daemonSets) != 1 {
		tb.Fatalf("%s: %d DaemonSets, want 1", m.dir, len(m.daemonSets))
	}
	ds := m.daemonSets[0]
	i := slices.IndexFunc(ds.Spec.Template.Spec.Containers, func(c corev1.Container) bool { return c.Name == k8sContainer })
	if i < 0 {
		tb.Fatalf("%s: DaemonSet has no container %q", m.dir, k8sContainer)
	}
	c := &ds.Spec.Template.Spec.Containers[i]
	cm := m.configMapMountedAt(tb, c, "/etc/interlock/config")
	text, ok := cm.Data[k8sConfigKey]
	if !ok {
		tb.Fatalf("%s: ConfigMap %s has no %s", m.dir, cm.Name, k8sConfigKey)
	}
	if !slices.Contains(c.Args, "/etc/interlock/config/"+k8sConfigKey) {
		tb.Errorf("%s: args %v do not name /etc/interlock/config/%s", m.dir, c.Args, k8sConfigKey)
	}
	return ds, c, mustParseConfig(tb, m.dir+": ConfigMap "+cm.Name, []byte(text))
}

// configMapMountedAt returns the ConfigMap of the volume c mounts at path.
func (m *manifests) configMapMountedAt(tb testing.TB, c *corev1.Container, path string) *corev1.ConfigMap {
	tb.Helper()
	vol := m.volumeAt(tb, c, path)
	if vol.ConfigMap == nil {
		tb.Fatalf("%s: the volume at %s is not a ConfigMap", m.dir, path)
	}
	i := slices.IndexFunc(m.configMaps, func(cm *corev1.ConfigMap) bool { return cm.Name == vol.ConfigMap.Name })
	if i < 0 {
		tb.Fatalf("%s: ConfigMap %q mounted at %s is not in the build", m.dir, vol.ConfigMap.Name, path)
	}
	return m.configMaps[i]
}

func (m *manifests) volumeAt(tb testing.TB, c *corev1.Container, path string) *corev1.Volume {
	tb.Helper()
	ds := m.daemonSets[0]
	i := slices.IndexFunc(c.VolumeMounts, func(vm corev1.VolumeMount) bool { return vm.MountPath == path })
	if i < 0 {
		tb.Fatalf("%s: nothing is mounted at %s", m.dir, path)
	}
	name := c.VolumeMounts[i].Name
	j := slices.IndexFunc(ds.Spec.Template.Spec.Volumes, func(v corev1.Volume) bool { return v.Name == name })
	if j < 0 {
		tb.Fatalf("%s: volume %q is mounted but not defined", m.dir, name)
	}
	return &ds.Spec.Template.Spec.Volumes[j]
}

func TestKubernetesManifestsDecode(t *testing.T) {
	for _, dir := range kustomizations {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			m := buildManifests(t, dir)
			if len(m.namespaces) != 1 || m.namespaces[0].Name != k8sNamespace {
				t.Fatalf("want the one Namespace %s, got %d", k8sNamespace, len(m.namespaces))
			}
			if got := m.namespaces[0].Labels["pod-security.kubernetes.io/enforce"]; got != "privileged" {
				t.Errorf("Namespace pod-security enforce = %q, want privileged (hostPID, hostNetwork and hostPath are not baseline)", got)
			}
			for _, o := range m.namespaced() {
				if o.namespace != k8sNamespace {
					t.Errorf("%s %s is in namespace %q, want %s", o.kind, o.name, o.namespace, k8sNamespace)
				}
			}
			ds, _, _ := m.agent(t)
			if sa := ds.Spec.Template.Spec.ServiceAccountName; !slices.ContainsFunc(m.serviceAccounts, func(s *corev1.ServiceAccount) bool { return s.Name == sa }) {
				t.Errorf("ServiceAccount %q of the DaemonSet is not in the build", sa)
			}
		})
	}
}

// objectRef names one object of a build.
type objectRef struct{ kind, name, namespace string }

// namespaced lists the namespaced objects of the build.
func (m *manifests) namespaced() []objectRef {
	var out []objectRef
	add := func(kind string, meta metav1.ObjectMeta) {
		out = append(out, objectRef{kind, meta.Name, meta.Namespace})
	}
	for _, o := range m.serviceAccounts {
		add("ServiceAccount", o.ObjectMeta)
	}
	for _, o := range m.configMaps {
		add("ConfigMap", o.ObjectMeta)
	}
	for _, o := range m.services {
		add("Service", o.ObjectMeta)
	}
	for _, o := range m.daemonSets {
		add("DaemonSet", o.ObjectMeta)
	}
	for _, o := range m.serviceMonitors {
		add("ServiceMonitor", o.ObjectMeta)
	}
	return out
}

func TestKubernetesDaemonSet(t *testing.T) {
	for _, dir := range kustomizations {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			m := buildManifests(t, dir)
			ds, c, cfg := m.agent(t)
			spec := ds.Spec.Template.Spec
			if !spec.HostPID || !spec.HostNetwork {
				t.Errorf("hostPID = %v, hostNetwork = %v: both are required (host pids in origins; the listener on the node's loopback)", spec.HostPID, spec.HostNetwork)
			}
			if spec.DNSPolicy != corev1.DNSClusterFirstWithHostNet {
				t.Errorf("dnsPolicy = %q, want %q with hostNetwork", spec.DNSPolicy, corev1.DNSClusterFirstWithHostNet)
			}
			if spec.PriorityClassName != "system-node-critical" {
				t.Errorf("priorityClassName = %q, want system-node-critical", spec.PriorityClassName)
			}
			if !slices.ContainsFunc(spec.Tolerations, func(tl corev1.Toleration) bool {
				return tl.Operator == corev1.TolerationOpExists && tl.Key == "" && tl.Effect == ""
			}) {
				t.Errorf("tolerations %v: want one that tolerates every taint (operator Exists, no key, no effect)", spec.Tolerations)
			}

			us := ds.Spec.UpdateStrategy
			if us.Type != appsv1.RollingUpdateDaemonSetStrategyType || us.RollingUpdate == nil {
				t.Fatalf("updateStrategy = %+v, want RollingUpdate", us)
			}
			if mu := us.RollingUpdate.MaxUnavailable; mu == nil || *mu != intstr.FromInt32(1) {
				t.Errorf("maxUnavailable = %v, want 1", mu)
			}
			if ms := us.RollingUpdate.MaxSurge; ms == nil || *ms != intstr.FromInt32(0) {
				t.Errorf("maxSurge = %v, want 0 (two interlockd on one node would share listener and pins)", ms)
			}

			grace := time.Duration(0)
			if spec.TerminationGracePeriodSeconds != nil {
				grace = time.Duration(*spec.TerminationGracePeriodSeconds) * time.Second
			}
			if grace < cfg.Limits.DrainTimeout+10*time.Second {
				t.Errorf("terminationGracePeriodSeconds = %s, want at least limits.drain_timeout (%s) + 10s", grace, cfg.Limits.DrainTimeout)
			}

			for _, ic := range append(slices.Clone(spec.InitContainers), spec.Containers...) {
				if sc := ic.SecurityContext; sc != nil && sc.Privileged != nil && *sc.Privileged {
					t.Errorf("container %s is privileged", ic.Name)
				}
			}
			checkContainerSecurity(t, c)
			checkHostMounts(t, m, c)
			checkProbes(t, c, cfg)
		})
	}
}

func checkContainerSecurity(t *testing.T, c *corev1.Container) {
	t.Helper()
	sc := c.SecurityContext
	if sc == nil || sc.Capabilities == nil {
		t.Fatal("the interlockd container has no securityContext.capabilities")
	}
	if !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("capabilities.drop = %v, want [ALL]", sc.Capabilities.Drop)
	}
	var add []string
	for _, a := range sc.Capabilities.Add {
		add = append(add, strings.TrimPrefix(string(a), "CAP_"))
	}
	if got := sorted(add); !slices.Equal(got, capabilities) {
		t.Errorf("capabilities.add = %v, want exactly %v (docs/kubernetes.md)", got, capabilities)
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Error("readOnlyRootFilesystem is not true")
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Error("allowPrivilegeEscalation is not false")
	}
}

// checkHostMounts: the host paths interlockd shares with the node, each at
// the right place, writable where interlockd writes, and every path in the
// configuration inside a mount.
func checkHostMounts(t *testing.T, m *manifests, c *corev1.Container) {
	t.Helper()
	hostMounts := []struct {
		mountPath, hostPath string
		readOnly            bool
		propagation         corev1.MountPropagationMode
	}{
		{"/sys/fs/bpf", "/sys/fs/bpf", false, corev1.MountPropagationHostToContainer},
		{"/host/sys/fs/cgroup", "/sys/fs/cgroup", true, corev1.MountPropagationHostToContainer},
		{"/run/interlock", "/run/interlock", false, ""},
		{"/var/lib/interlock", "/var/lib/interlock", false, ""},
		{"/var/log/interlock", "/var/log/interlock", false, ""},
	}
	for _, h := range hostMounts {
		vol := m.volumeAt(t, c, h.mountPath)
		if vol.HostPath == nil || vol.HostPath.Path != h.hostPath {
			t.Errorf("%s: want hostPath %s, got %+v", h.mountPath, h.hostPath, vol.VolumeSource)
			continue
		}
		vm := c.VolumeMounts[slices.IndexFunc(c.VolumeMounts, func(vm corev1.VolumeMount) bool { return vm.MountPath == h.mountPath })]
		if vm.ReadOnly != h.readOnly {
			t.Errorf("%s: readOnly = %v, want %v", h.mountPath, vm.ReadOnly, h.readOnly)
		}
		got := corev1.MountPropagationMode("")
		if vm.MountPropagation != nil {
			got = *vm.MountPropagation
		}
		if got != h.propagation && !(h.propagation == "" && got == corev1.MountPropagationNone) {
			t.Errorf("%s: mountPropagation = %q, want %q", h.mountPath, got, h.propagation)
		}
	}
	for _, vm := range c.VolumeMounts {
		if vm.MountPropagation != nil && *vm.MountPropagation == corev1.MountPropagationBidirectional {
			t.Errorf("%s: Bidirectional propagation is only allowed to privileged containers", vm.MountPath)
		}
	}

	_, _, cfg := m.agent(t)
	for _, p := range configPaths(cfg) {
		i := slices.IndexFunc(c.VolumeMounts, func(vm corev1.VolumeMount) bool { return under(p.path, vm.MountPath) })
		switch {
		case i < 0:
			t.Errorf("%s: %s is in no volume of the container (the root filesystem is read-only and the image's)", p.field, p.path)
		case p.writable && c.VolumeMounts[i].ReadOnly:
			t.Errorf("%s: interlockd writes %s, but %s is mounted read-only", p.field, p.path, c.VolumeMounts[i].MountPath)
		}
	}
	if cfg.Redirect.Enabled && cfg.Redirect.Cgroup != "/host/sys/fs/cgroup" {
		t.Errorf("redirect.cgroup = %q, want /host/sys/fs/cgroup: the container's own /sys/fs/cgroup is its cgroup namespace", cfg.Redirect.Cgroup)
	}
}

// checkProbes: liveness on the proxy listener, readiness on the metrics
// server, at the ports the configuration binds.
func checkProbes(t *testing.T, c *corev1.Container, cfg *config.Config) {
	t.Helper()
	metrics, err := netip.ParseAddrPort(cfg.Metrics.Listen)
	if err != nil {
		t.Fatalf("metrics.listen %q: %v", cfg.Metrics.Listen, err)
	}
	if !metrics.Addr().IsUnspecified() {
		t.Errorf("metrics.listen = %s: with hostNetwork Prometheus scrapes the node's address, listen on 0.0.0.0", metrics)
	}
	i := slices.IndexFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.Name == "metrics" })
	if i < 0 || c.Ports[i].ContainerPort != int32(metrics.Port()) {
		t.Errorf("container port \"metrics\" = %v, want %d (metrics.listen)", c.Ports, metrics.Port())
	}
	for name, p := range map[string]*corev1.Probe{"startupProbe": c.StartupProbe, "readinessProbe": c.ReadinessProbe} {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/metrics" || p.HTTPGet.Port != intstr.FromString("metrics") {
			t.Errorf("%s = %+v, want httpGet /metrics on port \"metrics\"", name, p)
		}
	}
	lp := c.LivenessProbe
	if lp == nil || lp.TCPSocket == nil {
		t.Fatalf("livenessProbe = %+v, want a tcpSocket probe on an endpoint listener", lp)
	}
	want := netip.AddrPortFrom(netip.MustParseAddr(lp.TCPSocket.Host), uint16(lp.TCPSocket.Port.IntValue()))
	if !slices.ContainsFunc(cfg.Endpoints, func(e config.Endpoint) bool { return e.Listen == want.String() }) {
		t.Errorf("livenessProbe connects to %s, which is no endpoint's listen address", want)
	}
}

func TestKubernetesMetricsScrape(t *testing.T) {
	m := buildManifests(t, "kubernetes/overlays/example")
	ds, _, _ := m.agent(t)
	if len(m.services) != 1 {
		t.Fatalf("%d Services, want 1 (headless, for metrics)", len(m.services))
	}
	svc := m.services[0]
	if svc.Spec.ClusterIP != corev1.ClusterIPNone {
		t.Errorf("Service clusterIP = %q, want None (one target per node)", svc.Spec.ClusterIP)
	}
	for k, v := range svc.Spec.Selector {
		if ds.Spec.Template.Labels[k] != v {
			t.Errorf("Service selector %s=%s does not match the DaemonSet's pods %v", k, v, ds.Spec.Template.Labels)
		}
	}
	pi := slices.IndexFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return p.Name == "metrics" })
	if pi < 0 || svc.Spec.Ports[pi].TargetPort != intstr.FromString("metrics") {
		t.Fatalf("Service ports %v: want \"metrics\" targeting the container port \"metrics\"", svc.Spec.Ports)
	}
	if len(m.serviceMonitors) != 1 {
		t.Fatalf("%d ServiceMonitors, want 1", len(m.serviceMonitors))
	}
	sm := m.serviceMonitors[0]
	if len(sm.Spec.Selector.MatchLabels) == 0 {
		t.Error("ServiceMonitor selector is empty: it would select every Service")
	}
	for k, v := range sm.Spec.Selector.MatchLabels {
		if svc.Labels[k] != v {
			t.Errorf("ServiceMonitor selects %s=%s, the Service has %v", k, v, svc.Labels)
		}
	}
	if !slices.Contains(sm.Spec.NamespaceSelector.MatchNames, svc.Namespace) {
		t.Errorf("ServiceMonitor namespaceSelector %v does not include %s", sm.Spec.NamespaceSelector.MatchNames, svc.Namespace)
	}
	if len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Port != "metrics" || sm.Spec.Endpoints[0].Path != "/metrics" {
		t.Errorf("ServiceMonitor endpoints = %+v, want port \"metrics\", path /metrics", sm.Spec.Endpoints)
	}
}

// TestKubernetesSecretsDocumented: the Secrets the DaemonSet mounts are not
// in the build (they hold credentials); docs/kubernetes.md must say how to
// create each.
func TestKubernetesSecretsDocumented(t *testing.T) {
	m := buildManifests(t, "kubernetes/base")
	ds, _, _ := m.agent(t)
	doc := string(readFile(t, filepath.Join(repoRoot(t), "docs", "kubernetes.md")))
	n := 0
	for _, v := range ds.Spec.Template.Spec.Volumes {
		if v.Secret == nil {
			continue
		}
		n++
		if !strings.Contains(doc, "create secret generic "+v.Secret.SecretName) {
			t.Errorf("docs/kubernetes.md does not show `kubectl create secret generic %s`", v.Secret.SecretName)
		}
	}
	if n == 0 {
		t.Error("the DaemonSet mounts no Secret: where do the upstream credentials come from?")
	}
}

// TestKubernetesExamplePolicy: the overlay's policy ConfigMap keeps its name
// (so the kubelet swaps files in place and interlockd reloads), is mounted
// where policy.paths points, compiles in the real engine and decides as its
// comments say.
func TestKubernetesExamplePolicy(t *testing.T) {
	m := buildManifests(t, "kubernetes/overlays/example")
	_, c, cfg := m.agent(t)
	if len(cfg.Policy.Paths) != 1 {
		t.Fatalf("policy.paths = %v, want the one ConfigMap directory", cfg.Policy.Paths)
	}
	cm := m.configMapMountedAt(t, c, cfg.Policy.Paths[0])
	if cm.Name != "interlock-policy" {
		t.Errorf("policy ConfigMap is %q, want interlock-policy without a hash suffix (a new name would restart every interlockd)", cm.Name)
	}
	dir := t.TempDir()
	for name, text := range cm.Data {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	eng, err := policy.New(ctx, policy.Config{Paths: []string{dir}, Data: cfg.Policy.Data, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("the example policy does not load: %v", err)
	}
	t.Cleanup(func() { _ = eng.Close() })
	reader, _ := cfg.Policy.Data["readers"].([]any)
	if len(reader) == 0 {
		t.Fatalf("policy.data.readers = %v, want service accounts", cfg.Policy.Data["readers"])
	}
	tests := []struct {
		name, sub, sql string
		allow          bool
	}{
		{"listed account reads", reader[0].(string), "SELECT id FROM orders WHERE id = 1", true},
		{"listed account writes", reader[0].(string), "DELETE FROM orders WHERE id = 1", false},
		{"listed account drops", reader[0].(string), "DROP TABLE orders", false},
		{"other account reads", "system:serviceaccount:shop:other", "SELECT 1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := eng.Session(policy.Context{
				User:     policy.User{Sub: tt.sub},
				Endpoint: policy.Endpoint{Name: cfg.Endpoints[0].Name, Labels: cfg.Endpoints[0].Labels},
			})
			res, err := s.Check(ctx, tt.sql, policy.SCSOn)
			if err != nil {
				t.Fatalf("Check(%q): %v", tt.sql, err)
			}
			if res.Allowed() != tt.allow {
				t.Errorf("Check(%q) as %s: allowed = %v (%s), want %v", tt.sql, tt.sub, res.Allowed(), res.Decision.Reason, tt.allow)
			}
		})
	}
}
