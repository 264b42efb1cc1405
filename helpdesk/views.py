"""Pages of the helpdesk console: imports of past tickets and articles (IT technicians)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render

from helpdesk import imports
from helpdesk.forms import ImportUploadForm, MappingForm
from helpdesk.models import ImportJob

ADD_IMPORT = "helpdesk.add_importjob"
VIEW_IMPORT = "helpdesk.view_importjob"


@permission_required(VIEW_IMPORT, raise_exception=True)
def import_list(request: HttpRequest) -> HttpResponse:
    jobs = ImportJob.objects.select_related("started_by")[:50]
    return render(request, "helpdesk/import_list.html", {"jobs": jobs})


@permission_required(ADD_IMPORT, raise_exception=True)
def import_new(request: HttpRequest) -> HttpResponse:
    form = ImportUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            job = imports.create_job(
                user=request.user,
                kind=form.cleaned_data["kind"],
                uploaded_file=form.cleaned_data["file"],
            )
        except imports.ImportFileError as exc:
            form.add_error("file", exc.message)
        else:
            return redirect("helpdesk:import_mapping", pk=job.pk)
    return render(
        request,
        "helpdesk/import_new.html",
        {"form": form, "max_mb": imports.max_bytes() // (1024 * 1024)},
    )


@permission_required(ADD_IMPORT, raise_exception=True)
def import_mapping(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(ImportJob, pk=pk)
    if not _awaiting_mapping(job):
        return redirect("helpdesk:import_detail", pk=job.pk)
    try:
        table = imports.job_table(job)
    except (imports.ImportFileError, OSError):
        messages.error(
            request, "Le fichier de cet import ne peut plus être lu : déposez-le à nouveau."
        )
        return redirect("helpdesk:import_new")
    form = MappingForm(
        request.POST or None, kind=job.kind, headers=table.headers, initial=job.mapping
    )
    if request.method == "POST" and form.is_valid():
        try:
            imports.start_import(job, user=request.user, mapping=form.mapping())
        except imports.ImportFileError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, f"Import de « {job.filename} » lancé.")
            return redirect("helpdesk:import_detail", pk=job.pk)
    headers = table.headers
    preview = [
        (line, [row[i] if i < len(row) else "" for i in range(len(headers))])
        for line, row in table.rows[: imports.PREVIEW_ROWS]
    ]
    return render(
        request,
        "helpdesk/import_mapping.html",
        {"job": job, "form": form, "headers": headers, "preview": preview, "rows": len(table.rows)},
    )


@permission_required(VIEW_IMPORT, raise_exception=True)
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(ImportJob.objects.select_related("started_by"), pk=pk)
    if _awaiting_mapping(job):
        return redirect("helpdesk:import_mapping", pk=job.pk)
    fields = imports.fields_for(job.kind)
    mapping = [(fields[f].label, c) for f, c in job.mapping.items() if f in fields]
    return render(
        request,
        "helpdesk/import_detail.html",
        {"job": job, "mapping": mapping, "running": _running(job)},
    )


def _awaiting_mapping(job: ImportJob) -> bool:
    # `started_by` is set when the technician starts the import, not on upload.
    return job.status == ImportJob.Status.PENDING and job.started_by_id is None


def _running(job: ImportJob) -> bool:
    return job.status in (ImportJob.Status.PENDING, ImportJob.Status.RUNNING)


@permission_required(VIEW_IMPORT, raise_exception=True)
def import_progress(request: HttpRequest, pk: int) -> JsonResponse:
    job = get_object_or_404(ImportJob, pk=pk)
    return JsonResponse(
        {
            "status": job.status,
            "status_label": job.get_status_display(),
            "running": _running(job),
            "error": job.error,
            "total": job.total,
            "processed": job.processed,
            "created": job.created,
            "updated": job.updated,
            "unchanged": job.unchanged,
            "refused": len(job.errors),
            "percent": round(100 * job.processed / job.total) if job.total else 100,
        }
    )
