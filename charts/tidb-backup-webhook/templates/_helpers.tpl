{{/*
Names are fixed (not derived from the release name): the objects are the same as
manifests/ renders, and the cluster-scoped ones allow one release per cluster.
*/}}

{{- define "tidb-backup-webhook.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{/* The image's pull policy and the pod's pull secrets, when set. */}}
{{- define "tidb-backup-webhook.pullPolicy" -}}
{{- with .Values.image.pullPolicy }}
imagePullPolicy: {{ . }}
{{- end }}
{{- end }}

{{/* Scheduling and pull secrets shared by both Deployments; `component` is webhook or reconciler. */}}
{{- define "tidb-backup-webhook.podExtras" -}}
{{- with .root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .component.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with .component.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .component.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* The host of webhook.url (brackets of an IPv6 address removed), or nothing. */}}
{{- define "tidb-backup-webhook.urlHost" -}}
{{- with .Values.webhook.url }}
{{- regexReplaceAll "^https://\\[?([^/\\]]*?)\\]?(:[0-9]+)?$" . "${1}" }}
{{- end }}
{{- end }}

{{/* Whether the host of webhook.url is an IP address. */}}
{{- define "tidb-backup-webhook.urlHostIsIP" -}}
{{- $host := include "tidb-backup-webhook.urlHost" . }}
{{- if or (regexMatch "^[0-9]+(\\.[0-9]+){3}$" $host) (contains ":" $host) }}true{{ end }}
{{- end }}

{{/* The webhook's DNS names in the release namespace, and webhook.url's host if a name. */}}
{{- define "tidb-backup-webhook.dnsNames" -}}
- tidb-backup-webhook
- tidb-backup-webhook.{{ .Release.Namespace }}
- tidb-backup-webhook.{{ .Release.Namespace }}.svc
{{- $host := include "tidb-backup-webhook.urlHost" . }}
{{- if and $host (not (include "tidb-backup-webhook.urlHostIsIP" .)) }}
- {{ $host }}
{{- end }}
{{- end }}

{{/* webhook.url's host if an IP address, as a list (empty otherwise). */}}
{{- define "tidb-backup-webhook.ipAddresses" -}}
{{- if include "tidb-backup-webhook.urlHostIsIP" . }}
- {{ include "tidb-backup-webhook.urlHost" . | quote }}
{{- end }}
{{- end }}
