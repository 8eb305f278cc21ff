{{/* Names and labels, shared by every template. */}}

{{- define "pullguard.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The resource name prefix: the release name when it already says "pullguard". */}}
{{- define "pullguard.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "pullguard.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "pullguard.selectorLabels" -}}
app.kubernetes.io/name: {{ include "pullguard.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "pullguard.labels" -}}
helm.sh/chart: {{ include "pullguard.chart" . }}
{{ include "pullguard.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "pullguard.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "pullguard.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The user name the API server gives pullguard's requests (RBAC subjects, policy checks). */}}
{{- define "pullguard.serviceAccountUsername" -}}
{{- printf "system:serviceaccount:%s:%s" .Release.Namespace (include "pullguard.serviceAccountName" .) }}
{{- end }}

{{- define "pullguard.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* auto resolves to certManager when the cert-manager API is served, else helm. */}}
{{- define "pullguard.tlsMode" -}}
{{- if eq .Values.tls.mode "auto" }}
{{- if .Capabilities.APIVersions.Has "cert-manager.io/v1" }}certManager{{ else }}helm{{ end }}
{{- else }}
{{- .Values.tls.mode }}
{{- end }}
{{- end }}

{{- define "pullguard.tlsSecretName" -}}
{{- if eq (include "pullguard.tlsMode" .) "secret" }}
{{- required "tls.secret.name is required when tls.mode is secret" .Values.tls.secret.name }}
{{- else }}
{{- printf "%s-tls" (include "pullguard.fullname" .) }}
{{- end }}
{{- end }}

{{/* The DNS names the API server may use for the webhook Service (it dials <svc>.<ns>.svc). */}}
{{- define "pullguard.dnsNames" -}}
{{- $svc := include "pullguard.fullname" . }}
{{- $names := list $svc (printf "%s.%s" $svc .Release.Namespace) (printf "%s.%s.svc" $svc .Release.Namespace) (printf "%s.%s.svc.%s" $svc .Release.Namespace .Values.tls.clusterDomain) }}
{{- concat $names .Values.tls.extraDnsNames | uniq | toJson }}
{{- end }}

{{/*
Tenant namespaces: labelled with the tenant label, never kube-system nor pullguard's own namespace
(no self-deadlock). kubernetes.io/metadata.name is set by the API server and cannot be forged.
Shared by the webhook and the always-pull policy binding, so both cover exactly the same namespaces.
*/}}
{{- define "pullguard.tenantNamespaceSelector" -}}
matchExpressions:
  - key: {{ .Values.settings.tenantLabel | quote }}
    operator: Exists
  - key: kubernetes.io/metadata.name
    operator: NotIn
    values:
      {{- range concat (list "kube-system" .Release.Namespace) .Values.webhook.excludeNamespaces | uniq }}
      - {{ . | quote }}
      {{- end }}
{{- end }}

{{/* A list of strings as a CEL list literal (JSON string syntax is valid CEL), quoted for YAML. */}}
{{- define "pullguard.celStringList" -}}
{{- toJson . | squote }}
{{- end }}

{{/* A string as a CEL string literal, quoted for YAML. */}}
{{- define "pullguard.celString" -}}
{{- toJson . | squote }}
{{- end }}

{{/* Admin user names of the tenant label guard: users, service accounts, optionally pullguard's own. */}}
{{- define "pullguard.tenantLabelAdminUsers" -}}
{{- $users := list }}
{{- range .Values.tenantLabelGuard.adminUsers }}
{{- $users = append $users . }}
{{- end }}
{{- range .Values.tenantLabelGuard.adminServiceAccounts }}
{{- $users = append $users (printf "system:serviceaccount:%s:%s" .namespace .name) }}
{{- end }}
{{- if .Values.tenantLabelGuard.includeOwnServiceAccount }}
{{- $users = append $users (include "pullguard.serviceAccountUsername" .) }}
{{- end }}
{{- include "pullguard.celStringList" (uniq $users) }}
{{- end }}
