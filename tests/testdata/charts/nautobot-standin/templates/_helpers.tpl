{{/* The real chart's fullname rule: the release name when it already contains the chart name. */}}
{{- define "nautobot.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "nautobot.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "nautobot.image" -}}
{{- $i := .Values.nautobot.image -}}
{{- printf "%s/%s:%s" $i.registry $i.repository $i.tag -}}
{{- end -}}

{{/* The Redis password secret, resolved in the real chart's order. */}}
{{- define "nautobot.redis.secretName" -}}
{{- $auth := (.Values.redis.auth | default dict) -}}
{{- .Values.nautobot.redis.existingSecret | default $auth.existingSecret | default (printf "%s-redis" .Release.Name) -}}
{{- end -}}

{{- define "nautobot.redis.secretKey" -}}
{{- $auth := (.Values.redis.auth | default dict) -}}
{{- .Values.nautobot.redis.existingSecretPasswordKey | default $auth.existingSecretPasswordKey | default "redis-password" -}}
{{- end -}}

{{- define "nautobot.db.secretName" -}}
{{- .Values.nautobot.db.existingSecret | default (printf "%s-postgresql" (include "nautobot.fullname" .)) -}}
{{- end -}}

{{/* A probe without the chart-only "enabled" switch. */}}
{{- define "nautobot.probe" -}}
{{- toYaml (omit . "enabled") -}}
{{- end -}}
