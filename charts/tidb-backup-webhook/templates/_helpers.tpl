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

{{/* The webhook's DNS names in the release namespace. */}}
{{- define "tidb-backup-webhook.dnsNames" -}}
- tidb-backup-webhook
- tidb-backup-webhook.{{ .Release.Namespace }}
- tidb-backup-webhook.{{ .Release.Namespace }}.svc
{{- end }}
