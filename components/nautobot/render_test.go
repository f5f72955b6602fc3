package nautobot_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"nautobot-worker/internal/chartrender"
	"nautobot-worker/internal/realchart"
)

// render renders the real chart 3.1.1 with the values, as the global release does, and indexes the objects
// by kind and name; it skips only when the chart is absent.
func render(t *testing.T, name string, values map[string]any) map[string]map[string]any {
	t.Helper()
	path, err := realchart.Path(filepath.Join("..", ".."))
	if err != nil {
		t.Skipf("skipped: %v", err)
	}
	objs, err := chartrender.Render(path, name, "nautobot", values)
	require.NoError(t, err)
	byID := map[string]map[string]any{}
	for _, o := range objs {
		byID[o["kind"].(string)+" "+dig(o, "metadata", "name").(string)] = o
	}
	return byID
}

func dig(v any, path ...string) any {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

func containerOf(t *testing.T, workload map[string]any, name string) map[string]any {
	t.Helper()
	for _, c := range dig(workload, "spec", "template", "spec", "containers").([]any) {
		if c.(map[string]any)["name"] == name {
			return c.(map[string]any)
		}
	}
	require.Failf(t, "no container", "%s in %v", name, dig(workload, "metadata", "name"))
	return nil
}

func TestTheRealChartRendersTheProductionSettings(t *testing.T) {
	values, err := production().Values()
	require.NoError(t, err)
	objs := render(t, "nautobot", values)

	web := objs["Deployment nautobot-default"]
	require.NotNil(t, web)
	require.Equal(t, float64(3), dig(web, "spec", "replicas"))
	require.Equal(t, "netops", dig(web, "spec", "template", "metadata", "labels", "team"), "nautobot.values reach the pods")
	nautobotContainer := containerOf(t, web, "nautobot")
	require.Equal(t, "ghcr.io/acme/nautobot:3.0.4-py3.12", nautobotContainer["image"])
	require.Equal(t, "IfNotPresent", nautobotContainer["imagePullPolicy"])
	require.Equal(t, map[string]any{
		"requests": map[string]any{"cpu": "500m", "memory": "2Gi"}, "limits": map[string]any{"cpu": "2", "memory": "4Gi"},
	}, nautobotContainer["resources"])
	for _, name := range []string{"Deployment nautobot-celery-default", "Deployment nautobot-celery-beat"} {
		celery := containerOf(t, objs[name], "nautobot-celery")
		require.Equal(t, "ghcr.io/acme/nautobot:3.0.4-py3.12", celery["image"], "%s runs the same image", name)
	}
	require.Equal(t, "1", dig(containerOf(t, objs["Deployment nautobot-celery-default"], "nautobot-celery"), "resources", "requests", "cpu"),
		"celery.resources from nautobot.values reach the default worker (beat has its own, workers.beat.resources)")
	require.Contains(t, objs, "Ingress nautobot", "nautobot.values add objects the stack does not render")

	redis := objs["StatefulSet nautobot-redis-master"]
	require.NotNil(t, redis)
	claims := dig(redis, "spec", "volumeClaimTemplates").([]any)
	require.Len(t, claims, 1)
	require.Equal(t, "fast-ssd", dig(claims[0], "spec", "storageClassName"))
	require.Equal(t, "16Gi", dig(claims[0], "spec", "resources", "requests", "storage"))
	redisContainer := containerOf(t, redis, "redis")
	require.Equal(t, map[string]any{"requests": map[string]any{"memory": "512Mi"}, "limits": map[string]any{"memory": "1Gi"}}, redisContainer["resources"])
	require.Contains(t, redisContainer["env"], map[string]any{"name": "REDIS_TLS_AUTH_CLIENTS", "value": "yes"},
		"the production settings keep Redis client-certificate-only")
}

func TestTheRealChartRendersRedisWithoutPersistence(t *testing.T) {
	a := base()
	a.Redis.Persistence.Enabled = new(false)
	values, err := a.Values()
	require.NoError(t, err)
	redis := render(t, "nautobot", values)["StatefulSet nautobot-redis-master"]
	require.Nil(t, dig(redis, "spec", "volumeClaimTemplates"))
	var data any
	for _, v := range dig(redis, "spec", "template", "spec", "volumes").([]any) {
		if dig(v, "name") == "redis-data" {
			data = v
		}
	}
	require.Equal(t, map[string]any{}, dig(data, "emptyDir"), "Redis data is on an emptyDir")
}

// Without production settings the chart's own defaults render: the keys add nothing when unset.
func TestTheRealChartKeepsItsDefaultsWhenTheKeysAreUnset(t *testing.T) {
	values, err := base().Values()
	require.NoError(t, err)
	objs := render(t, "nautobot", values)
	web := containerOf(t, objs["Deployment nautobot-default"], "nautobot")
	require.Equal(t, float64(2), dig(objs["Deployment nautobot-default"], "spec", "replicas"))
	require.Equal(t, "registry-1.docker.io/networktocode/nautobot:3.0-py3.13", web["image"])
	require.Equal(t, "8Gi", dig(dig(objs["StatefulSet nautobot-redis-master"], "spec", "volumeClaimTemplates").([]any)[0], "spec", "resources", "requests", "storage"))
}
