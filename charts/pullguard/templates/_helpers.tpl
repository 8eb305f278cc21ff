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

{{/* Where the tenants' credential Secrets live: settings.credentialsNamespace, else the release namespace. */}}
{{- define "pullguard.credentialsNamespace" -}}
{{- default .Release.Namespace .Values.settings.credentialsNamespace }}
{{- end }}

{{/*
The TLS mode already installed, read from the cluster on upgrade: the mode whose Secret exists
(helm first: the chart owns that Secret, while cert-manager's may outlive a switch away from it).
Empty on install, for secret mode (the Secret is not the chart's), and wherever lookup returns
nothing (`helm template`, client-side dry runs).
*/}}
{{- define "pullguard.installedTlsMode" -}}
{{- if .Release.IsUpgrade }}
{{- $fullname := include "pullguard.fullname" . }}
{{- if lookup "v1" "Secret" .Release.Namespace (printf "%s-helm-tls" $fullname) }}helm
{{- else if lookup "v1" "Secret" .Release.Namespace (printf "%s-cert-manager-tls" $fullname) }}certManager
{{- end }}
{{- end }}
{{- end }}

{{/* tls.mode, unless another mode is installed and tls.allowModeChange is off: then that one (sticky). */}}
{{- define "pullguard.tlsMode" -}}
{{- $installed := include "pullguard.installedTlsMode" . }}
{{- if and $installed (ne $installed .Values.tls.mode) (not .Values.tls.allowModeChange) }}
{{- $installed }}
{{- else }}
{{- .Values.tls.mode }}
{{- end }}
{{- end }}

{{/* One Secret name per mode, so a switch never has Helm and cert-manager writing the same Secret. */}}
{{- define "pullguard.tlsSecretName" -}}
{{- $mode := include "pullguard.tlsMode" . }}
{{- if eq $mode "secret" }}
{{- required "tls.secret.name is required when tls.mode is secret" .Values.tls.secret.name }}
{{- else if eq $mode "certManager" }}
{{- printf "%s-cert-manager-tls" (include "pullguard.fullname" .) }}
{{- else }}
{{- printf "%s-helm-tls" (include "pullguard.fullname" .) }}
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

{{/*
The Pod spec shared by the hook Pods (pre-delete, helm test): pullguard's image running one of the
scripts in files/hooks (mounted from a ConfigMap) under the restricted security context.
Arguments: dict "root" $ "serviceAccount" name "configMap" name "script" file "args" list "env" list.
*/}}
{{- define "pullguard.hookPodSpec" -}}
{{- $root := .root -}}
serviceAccountName: {{ .serviceAccount }}
automountServiceAccountToken: true
restartPolicy: Never
{{- with $root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml $root.Values.podSecurityContext | nindent 2 }}
{{- with $root.Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $root.Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
containers:
  - name: hook
    image: {{ include "pullguard.image" $root | quote }}
    imagePullPolicy: {{ $root.Values.image.pullPolicy }}
    # The image's node, not its pullguard entrypoint: the hooks are scripts of the chart.
    command: ["/nodejs/bin/node", "/etc/pullguard/hooks/{{ .script }}"]
    {{- with .args }}
    args:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    {{- with .env }}
    env:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    resources:
      requests:
        cpu: 10m
        memory: 48Mi
      limits:
        memory: 96Mi
    securityContext:
      {{- toYaml $root.Values.securityContext | nindent 6 }}
    volumeMounts:
      - name: hooks
        mountPath: /etc/pullguard/hooks
        readOnly: true
volumes:
  - name: hooks
    configMap:
      name: {{ .configMap }}
{{- end }}

{{/* The hook scripts as ConfigMap data: the shared client and the named script. */}}
{{- define "pullguard.hookScripts" -}}
kube.mjs: |
  {{- .root.Files.Get "files/hooks/kube.mjs" | nindent 2 }}
{{ .script }}: |
  {{- .root.Files.Get (printf "files/hooks/%s" .script) | nindent 2 }}
{{- end }}

{{/* Labels of the hook Pods: never the selector labels, so no Service, PDB or spread counts them. */}}
{{- define "pullguard.hookPodLabels" -}}
helm.sh/chart: {{ include "pullguard.chart" .root }}
app.kubernetes.io/name: {{ include "pullguard.name" .root }}-hook
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
{{- end }}
