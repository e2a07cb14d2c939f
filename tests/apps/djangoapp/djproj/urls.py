from django.urls import path
from . import views

urlpatterns = [
    path('', views.index),
    path('item/<int:num>/', views.item),
    path('form/', views.form),
]
