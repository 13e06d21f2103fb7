package deploy

import (
	"bytes"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// TestKubernetes checks kubernetes.yaml offline: every document decodes
// strictly (no unknown field, every value of the right type) into the
// Kubernetes API types its apiVersion and kind name (the types the API's
// OpenAPI schemas are generated from), and the objects fit together: the
// store URL and key come from the Secret, readiness is /healthz on the
// container's port, a preStop pause and a grace period that covers it and
// --shutdown-timeout, the Service selects the pods. What this does not
// check: the API server's own validation (required fields it defaults,
// value ranges), which needs a cluster.
func TestKubernetes(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("kubernetes.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var (
		secret  *corev1.Secret
		deploy  *appsv1.Deployment
		service *corev1.Service
	)
	for i, doc := range bytes.Split(b, []byte("\n---\n")) {
		var head struct{ APIVersion, Kind string }
		if err := yaml.Unmarshal(doc, &head); err != nil {
			t.Fatalf("document %d: %v", i+1, err)
		}
		var obj any
		switch head.APIVersion + " " + head.Kind {
		case "v1 Secret":
			secret = &corev1.Secret{}
			obj = secret
		case "apps/v1 Deployment":
			deploy = &appsv1.Deployment{}
			obj = deploy
		case "v1 Service":
			service = &corev1.Service{}
			obj = service
		default:
			t.Fatalf("document %d: unexpected %s %s", i+1, head.APIVersion, head.Kind)
		}
		if err := yaml.UnmarshalStrict(doc, obj); err != nil {
			t.Errorf("document %d (%s): %v", i+1, head.Kind, err)
		}
	}
	if secret == nil || deploy == nil || service == nil {
		t.Fatalf("want a Secret, a Deployment and a Service")
	}

	pod := deploy.Spec.Template
	if len(pod.Spec.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Spec.Containers))
	}
	c := pod.Spec.Containers[0]
	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		env[e.Name] = e
	}
	for name, scheme := range map[string][]string{
		"HERALD_STORE":   {"redis://", "rediss://", "nats://"},
		"HERALD_JWT_KEY": nil,
	} {
		e, ok := env[name]
		if !ok || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
			t.Errorf("%s does not come from a Secret", name)
			continue
		}
		ref := e.ValueFrom.SecretKeyRef
		v, ok := secret.StringData[ref.Key]
		if ref.Name != secret.Name || !ok {
			t.Errorf("%s comes from %s/%s, which the Secret %s does not hold", name, ref.Name, ref.Key, secret.Name)
		}
		if scheme != nil && !slices.ContainsFunc(scheme, func(s string) bool { return strings.HasPrefix(v, s) }) {
			t.Errorf("%s = %q: want a cluster store, one of %v", name, v, scheme)
		}
	}
	if len(c.Ports) != 1 {
		t.Fatalf("ports %v, want one", c.Ports)
	}
	port := c.Ports[0]
	if addr := env["HERALD_ADDR"].Value; !strings.HasSuffix(addr, ":"+itoa(port.ContainerPort)) {
		t.Errorf("HERALD_ADDR=%q, but the container port is %d", addr, port.ContainerPort)
	}
	if p := c.ReadinessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/healthz" || p.HTTPGet.Port.String() != port.Name {
		t.Errorf("readiness probe %+v, want GET /healthz on port %q", p, port.Name)
	}
	if c.LivenessProbe != nil && c.LivenessProbe.HTTPGet != nil && c.LivenessProbe.HTTPGet.Path == "/healthz" {
		t.Error("a liveness probe on /healthz restarts every pod while the store is unreachable")
	}
	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Sleep == nil {
		t.Fatal("no preStop pause: the Service would still send connections to a stopping pod")
	}
	pause := time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
	var shutdown time.Duration = 10 * time.Second // herald's default
	for _, a := range c.Args {
		if v, ok := strings.CutPrefix(a, "--shutdown-timeout="); ok {
			if shutdown, err = time.ParseDuration(v); err != nil {
				t.Fatal(err)
			}
		}
	}
	grace := time.Duration(*pod.Spec.TerminationGracePeriodSeconds) * time.Second
	if grace < pause+shutdown+5*time.Second {
		t.Errorf("terminationGracePeriodSeconds %v does not cover the preStop pause %v, --shutdown-timeout %v and a margin", grace, pause, shutdown)
	}
	if sc := pod.Spec.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		t.Error("the pod may run as root")
	}
	for k, v := range service.Spec.Selector {
		if pod.Labels[k] != v || deploy.Spec.Selector.MatchLabels[k] != v {
			t.Errorf("the Service selects %s=%s, which the pods do not carry", k, v)
		}
	}
	if len(service.Spec.Ports) != 1 || service.Spec.Ports[0].TargetPort.String() != port.Name {
		t.Errorf("the Service's ports %+v do not target %q", service.Spec.Ports, port.Name)
	}
}

func itoa(n int32) string {
	var b []byte
	for n >= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(append([]byte{byte('0' + n)}, b...))
}
