package nautobot_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"nautobot-worker/components/nautobot"
	"nautobot-worker/internal/kube"
	"nautobot-worker/internal/nautobotpod"
)

// production is every production setting of the global release at once, as a team would set them.
func production() nautobot.Args {
	a := base()
	a.Image = nautobotpod.Image{Registry: "ghcr.io", Repository: "acme/nautobot", Tag: "3.0.4-py3.12", PullPolicy: "IfNotPresent"}
	a.Replicas = new(3)
	a.Resources = kube.Resources{
		Requests: map[string]kube.Quantity{"cpu": "500m", "memory": "2Gi"},
		Limits:   map[string]kube.Quantity{"cpu": "2", "memory": "4Gi"},
	}
	a.Redis = nautobot.Redis{
		Persistence: nautobot.RedisPersistence{Size: "16Gi", StorageClass: "fast-ssd"},
		Resources:   kube.Resources{Requests: map[string]kube.Quantity{"memory": "512Mi"}, Limits: map[string]kube.Quantity{"memory": "1Gi"}},
	}
	a.ExtraValues = map[string]any{
		"nautobot": map[string]any{"podLabels": map[string]any{"team": "netops"}},
		"celery":   map[string]any{"resources": map[string]any{"requests": map[string]any{"cpu": "1"}}},
		"ingress":  map[string]any{"enabled": true, "hostname": "nautobot.example.com"},
	}
	return a
}

func TestProductionSettingsReachTheChartValues(t *testing.T) {
	m, err := run(t, production(), false)
	require.NoError(t, err)
	v := m.MustFind(t, "kubernetes:helm.sh/v4:Chart", "nautobot").Plain()["values"].(map[string]any)
	web := v["nautobot"].(map[string]any)
	require.Equal(t, map[string]any{"registry": "ghcr.io", "repository": "acme/nautobot", "tag": "3.0.4-py3.12", "pullPolicy": "IfNotPresent"}, web["image"])
	require.Equal(t, float64(3), web["replicaCount"])
	require.Equal(t, map[string]any{
		"requests": map[string]any{"cpu": "500m", "memory": "2Gi"}, "limits": map[string]any{"cpu": "2", "memory": "4Gi"},
	}, web["resources"])
	require.Equal(t, map[string]any{"team": "netops"}, web["podLabels"], "values add to a map the stack sets")
	require.NotEmpty(t, web["db"], "and keep what the stack sets beside it")
	require.Equal(t, map[string]any{"requests": map[string]any{"cpu": "1"}}, v["celery"].(map[string]any)["resources"])
	require.Equal(t, map[string]any{"enabled": true, "hostname": "nautobot.example.com"}, v["ingress"])
	redis := v["redis"].(map[string]any)
	require.Equal(t, map[string]any{
		"persistence": map[string]any{"size": "16Gi", "storageClass": "fast-ssd"},
		"resources":   map[string]any{"requests": map[string]any{"memory": "512Mi"}, "limits": map[string]any{"memory": "1Gi"}},
	}, redis["master"])
	require.Equal(t, true, redis["tls"].(map[string]any)["authClients"])
}

func TestRedisPersistenceCanBeTurnedOff(t *testing.T) {
	a := base()
	a.Redis.Persistence.Enabled = new(false)
	m, err := run(t, a, false)
	require.NoError(t, err)
	v := m.MustFind(t, "kubernetes:helm.sh/v4:Chart", "nautobot").Plain()["values"].(map[string]any)
	require.Equal(t, map[string]any{"persistence": map[string]any{"enabled": false}}, v["redis"].(map[string]any)["master"])
}

func TestProductionSettingsValidation(t *testing.T) {
	cases := []struct {
		name string
		edit func(*nautobot.Args)
		want []string
	}{
		{"pull policy", func(a *nautobot.Args) { a.Image.PullPolicy = "Sometimes" }, []string{`image.pullPolicy: "Sometimes" is not supported`}},
		{"replicas", func(a *nautobot.Args) { a.Replicas = new(0) }, []string{"replicas: 0 is less than 1"}},
		{"resources", func(a *nautobot.Args) { a.Resources.Limits["cpu"] = "two" }, []string{`resources.limits.cpu: "two" is not a Kubernetes quantity`}},
		{"Redis persistence size", func(a *nautobot.Args) { a.Redis.Persistence.Size = "16 GB" }, []string{`redis.persistence.size: "16 GB" is not a Kubernetes quantity`}},
		{"Redis storage class", func(a *nautobot.Args) { a.Redis.Persistence.StorageClass = "Fast_SSD" }, []string{`redis.persistence.storageClass: "Fast_SSD" is not a valid Kubernetes object name`}},
		{"Redis persistence off with a size", func(a *nautobot.Args) { a.Redis.Persistence.Enabled = new(false) },
			[]string{"redis.persistence.enabled: is false, but redis.persistence.size or storageClass is set"}},
		{"Redis resources", func(a *nautobot.Args) { a.Redis.Resources.Requests["memory"] = "2Gi" },
			[]string{"redis.resources.requests.memory: 2Gi is more than the limit 1Gi"}},
		{"values override a stack value", func(a *nautobot.Args) {
			a.ExtraValues["redis"] = map[string]any{"tls": map[string]any{"authClients": false}}
		}, []string{"values.redis.tls.authClients: is owned by the stack; nautobot.values cannot set or override it; it keeps the release wired for mTLS"}},
		{"values set what a key owns", func(a *nautobot.Args) {
			a.ExtraValues["nautobot"] = map[string]any{"replicaCount": 5, "image": map[string]any{"tag": "latest"}}
		}, []string{
			"values.nautobot.image: is owned by the stack; nautobot.values cannot set or override it; use nautobot.image",
			"values.nautobot.replicaCount: is owned by the stack; nautobot.values cannot set or override it; use nautobot.replicas",
		}},
		{"values rename the Redis Service", func(a *nautobot.Args) { a.ExtraValues["fullnameOverride"] = "nb" },
			[]string{"values.fullnameOverride: is owned by the stack; nautobot.values cannot set or override it; it renames the Redis Service"}},
		{"values set Redis persistence", func(a *nautobot.Args) {
			a.ExtraValues["redis"] = map[string]any{"master": map[string]any{"persistence": map[string]any{"size": "1Gi"}}}
		}, []string{"values.redis.master.persistence: is owned by the stack; nautobot.values cannot set or override it; use nautobot.redis.persistence"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := production()
			tc.edit(&a)
			m, err := run(t, a, false)
			m.RequireRejected(t, err, tc.want...)
		})
	}
	t.Run("an owned path is reported once", func(t *testing.T) {
		a := production()
		a.Image.Tag = ""
		a.ExtraValues["nautobot"] = map[string]any{"image": map[string]any{"registry": "docker.io"}}
		_, err := run(t, a, false)
		require.ErrorContains(t, err, "values.nautobot.image:")
		require.NotContains(t, err.Error(), "values.nautobot.image.registry")
	})
}
