"""The knowledge base: articles for every agent, drafts and internal notes for technicians."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from chat.rendering import render_answer
from helpdesk import selectors, services
from helpdesk.models import Article
from helpdesk.ticket_forms import ArticleForm


def article_list(request: HttpRequest) -> HttpResponse:
    articles = selectors.visible_articles(request.user).select_related("category__parent")
    status = request.GET.get("etat", "")
    if status in Article.Status.values:
        articles = articles.filter(status=status)
    return render(
        request,
        "helpdesk/article_list.html",
        {
            "articles": articles.order_by("status", "title")[:500],
            "technician": selectors.is_technician(request.user),
            "status": status,
            "statuses": Article.Status.choices,
        },
    )


def article_detail(request: HttpRequest, pk: int) -> HttpResponse:
    article = selectors.get_article(request.user, pk)
    return render(
        request,
        "helpdesk/article_detail.html",
        {
            "article": article,
            "html": render_answer(article.body, []),
            "can_edit": request.user.has_perm("helpdesk.change_article"),
        },
    )


def article_edit(request: HttpRequest, pk: int) -> HttpResponse:
    article = selectors.get_article(request.user, pk)
    if not request.user.has_perm("helpdesk.change_article"):
        raise PermissionDenied("Seuls les techniciens modifient les articles.")
    form = ArticleForm(
        request.POST or None,
        initial={
            "title": article.title,
            "body": article.body,
            "category": article.category_id,
            "audience": article.audience,
            "status": article.status,
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.save_article(article, by=request.user, **form.cleaned_data)
        except services.TicketError as exc:
            form.add_error(None, str(exc))
        else:
            published = article.status == Article.Status.PUBLISHED
            messages.success(
                request,
                "Article publié : l'assistant le proposera dès la fin de l'indexation."
                if published
                else "Brouillon enregistré.",
            )
            return redirect("helpdesk:article", pk=article.pk)
    return render(request, "helpdesk/article_edit.html", {"article": article, "form": form})
